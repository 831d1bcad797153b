/* SPDX-License-Identifier: BSD-2-Clause */
/* How qzfs shows a volume: one JSON object, or a line and its revisions for people. */
#include "cli.h"
#include "engine.h"

#include <stdio.h>
#include <time.h>

void qz_cli_volinfo(qz_cli_t *cli, const char *key, const char *vol, const qz_volinfo_t *in)
{
	char when[32];
	if (!cli->json) {
		printf("%s: %s, size %llu, usage %llu%s%s, current %s, %zu revision(s)\n", vol,
		       in->exists ? "exists" : "absent", (unsigned long long)in->size,
		       (unsigned long long)in->usage, in->dirty ? ", dirty" : "",
		       in->outdated ? ", outdated" : "", in->current[0] ? in->current : "-",
		       in->nrevisions);
	} else {
		qz_json_object(&cli->out, key);
		qz_json_string(&cli->out, "name", vol);
		qz_json_bool(&cli->out, "exists", in->exists);
		qz_json_bool(&cli->out, "dirty", in->dirty);
		qz_json_bool(&cli->out, "outdated", in->outdated);
		qz_json_uint(&cli->out, "size", in->size);
		qz_json_uint(&cli->out, "usage", in->usage);
		qz_json_string(&cli->out, "current", in->current);
		if (in->source[0] != '\0') {
			qz_json_string(&cli->out, "source", in->source);
			qz_json_string(&cli->out, "source_state", in->source_state);
		}
		if (in->device[0] != '\0')
			qz_json_string(&cli->out, "device", in->device);
		qz_json_object(&cli->out, "revisions");
	}
	for (size_t i = 0; i < in->nrevisions; i++) {
		/* ISO 8601 in UTC without a zone, as qubesd wants revision times */
		time_t t = (time_t)in->revisions[i].created;
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", gmtime(&t));
		if (cli->json)
			qz_json_string(&cli->out, in->revisions[i].id, when);
		else
			printf("  revision %s %s\n", in->revisions[i].id, when);
	}
	if (cli->json) {
		qz_json_end(&cli->out, '}');
		qz_json_end(&cli->out, '}');
	}
}
