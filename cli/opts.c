/* SPDX-License-Identifier: BSD-2-Clause */
/* Options of subcommands, parsed with getopt_long as every Unix tool parses them (cli.h). */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

int qz_cli_getopt(qz_cli_t *cli, int argc, char **argv, const struct option *opts, qz_opt_fn on,
		  void *ctx, int *first)
{
	/* getopt_long reads from argv[1]: the command's name is just before its arguments */
	char **av = argv - 1;
	int ac = argc + 1, id;
	optind = 0; /* a fresh start, as for a new program */
	opterr = 0; /* its messages name the program, not the command: ours are below */
	while ((id = getopt_long(ac, av, ":", opts, NULL)) != -1) {
		char msg[160];
		const char *name = av[optind - 1];
		if (id == '?' || id == ':') {
			char shortopt[3] = {'-', (char)optopt, 0};
			if (id == '?' && optopt != 0)
				name = shortopt;
			if (id == '?')
				snprintf(msg, sizeof(msg), "unknown option %.80s", name);
			else
				snprintf(msg, sizeof(msg), "%.80s needs a value", name);
			return qz_cli_usage(cli, msg);
		}
		int rc = on(cli, ctx, id, optarg);
		if (rc != 0)
			return rc;
	}
	*first = optind - 1;
	return 0;
}
