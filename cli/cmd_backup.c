/* qzfs backup ...: the parts of secure backups that can be tried by hand. */
#include "cli.h"
#include "error.h"
#include "token.h"

#include <errno.h>
#include <stdio.h>

/* Parses a receive resume token strictly and shows what it asks for, or why it is refused. */
static int cmd_token(qz_cli_t *cli, int argc, char **argv)
{
	if (argc != 1)
		return qz_cli_usage(cli, "give one resume token");
	qz_token_t t;
	char why[256];
	if (qz_token_parse(argv[0], &t, why, sizeof(why)) != 0) {
		fprintf(stderr, "qzfs %s: refused: %s\n", cli->cmd, why);
		return QZ_EXIT_FAIL;
	}
	if (cli->json) {
		qz_json_object(&cli->out, NULL);
		qz_json_string(&cli->out, "toname", t.toname);
		qz_json_uint(&cli->out, "toguid", t.toguid);
		if (t.has_fromguid)
			qz_json_uint(&cli->out, "fromguid", t.fromguid);
		qz_json_uint(&cli->out, "object", t.object);
		qz_json_uint(&cli->out, "offset", t.offset);
		qz_json_uint(&cli->out, "bytes", t.bytes);
		qz_json_bool(&cli->out, "rawok", t.rawok);
		qz_json_end(&cli->out, '}');
	} else {
		printf("%s guid %llu%s: object %llu offset %llu, %llu bytes sent%s\n", t.toname,
		       (unsigned long long)t.toguid, t.has_fromguid ? " (incremental)" : "",
		       (unsigned long long)t.object, (unsigned long long)t.offset,
		       (unsigned long long)t.bytes, t.rawok ? ", raw" : "");
	}
	return QZ_EXIT_OK;
}

const qz_cmd_t qz_backup_cmds[] = {
    {"token", cmd_token, "TOKEN", "read a receive resume token strictly", NULL, QZ_CMD_NOZFS},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
