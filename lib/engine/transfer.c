/* Backup transfers: what dom0 sends, decided from ZFS and never from the receiving side. */
#include "engine.h"
#include "family.h"
#include "token.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qz_transfer_record(qz_backend_t *be, const char *snap, const char *from, qz_transfer_t *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->snap = snap;
	rec->from = from;
	int err = qz_prop_u64(be, snap, "guid", &rec->toguid);
	if (err == 0 && from != NULL)
		err = qz_prop_u64(be, from, "guid", &rec->fromguid);
	char enc[32] = "";
	if (err == 0)
		err = be->ops->get_prop(be, snap, "encryption", enc, sizeof(enc));
	if (err != 0)
		return err;
	rec->raw = strcmp(enc, "off") != 0;
	/* raw sends carry blocks as stored (compressed, large, embedded); the others ask for it */
	rec->send_flags =
	    rec->raw ? QZ_SEND_RAW : QZ_SEND_EMBED | QZ_SEND_LARGE_BLOCK | QZ_SEND_COMPRESS;
	return 0;
}

int qz_transfer_send(qz_backend_t *be, const qz_transfer_t *rec, const char *token, int fd,
		     char *why, size_t whylen)
{
	if (why != NULL && whylen > 0)
		why[0] = 0;
	if (token == NULL)
		return be->ops->send(be, rec->snap, rec->from, fd, rec->send_flags, 0, 0);
	qz_token_t t;
	int err = qz_token_parse(token, &t, why, whylen);
	if (err != 0)
		return err;
	qz_resume_t plan;
	if ((err = qz_token_plan(&t, rec, &plan, why, whylen)) != 0)
		return err;
	return be->ops->send(be, plan.snap, plan.from, fd, plan.send_flags, plan.object,
			     plan.offset);
}
