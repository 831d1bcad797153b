/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests on the committed corpus of real ZFS streams and tokens (tests/corpus/real, made in
 * the test VM by scripts/make-corpus): every real stream passes the verifier unchanged with what
 * dom0 would expect of it; the plaintext send of encrypted data is refused as raw; bits flipped
 * anywhere in real streams are caught before their record passes; raw streams' objset MACs are
 * read, and a stream with another than dom0 recorded is refused; real tokens parse. */
#include "stream.h"
#include "token.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct file {
	uint8_t *buf;
	size_t len;
};

static struct file slurp(const char *name, const char *ext)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s%s", QZ_CORPUS_DIR, name, ext);
	struct file f = {NULL, 0};
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		fail_msg("cannot open %s", path);
	fseek(fp, 0, SEEK_END);
	f.len = (size_t)ftell(fp);
	rewind(fp);
	f.buf = malloc(f.len + 1);
	assert_int_equal(fread(f.buf, 1, f.len, fp), f.len);
	f.buf[f.len] = 0;
	fclose(fp);
	return f;
}

static qz_stream_expect_t expect_of(const char *name)
{
	struct file f = slurp(name, ".expect");
	unsigned long long to, from;
	int raw, resumed;
	if (sscanf((char *)f.buf, "%llu %llu %d %d", &to, &from, &raw, &resumed) != 4)
		fail_msg("%s.expect is malformed", name);
	free(f.buf);
	qz_stream_expect_t e = {
	    .toguid = to, .fromguid = from, .raw = raw != 0, .resumed = resumed != 0};
	return e;
}

/* The names of the corpus's files with extension ext (without it); NULL-terminated. */
static char **names(const char *ext)
{
	DIR *d = opendir(QZ_CORPUS_DIR);
	assert_non_null(d);
	char **out = calloc(64, sizeof(char *));
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL && n < 63) {
		size_t l = strlen(de->d_name), el = strlen(ext);
		if (l > el && strcmp(de->d_name + l - el, ext) == 0)
			out[n++] = strndup(de->d_name, l - el);
	}
	closedir(d);
	return out;
}

static void free_names(char **v)
{
	for (size_t i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

struct sink {
	const uint8_t *in;
	size_t out;
	bool prefix;
};

static int sink_emit(void *ctx, const void *buf, size_t len)
{
	struct sink *s = ctx;
	if (memcmp(s->in + s->out, buf, len) != 0)
		s->prefix = false;
	s->out += len;
	return 0;
}

static int verify(const qz_stream_expect_t *e, const struct file *f, struct sink *s, char *why)
{
	qz_verifier_t *v = NULL;
	*s = (struct sink){f->buf, 0, true};
	assert_int_equal(qz_verifier_new(e, sink_emit, s, &v), 0);
	int err = qz_verifier_feed(v, f->buf, f->len);
	if (err == 0)
		err = qz_verifier_end(v);
	snprintf(why, 256, "%s", qz_verifier_why(v));
	qz_verifier_free(v);
	return err;
}

static void real_streams_pass_unchanged(void **state)
{
	(void)state;
	char **v = names(".zstream");
	size_t n = 0;
	for (; v[n] != NULL; n++) {
		struct file f = slurp(v[n], ".zstream");
		qz_stream_expect_t e = expect_of(v[n]);
		struct sink s;
		char why[256];
		if (verify(&e, &f, &s, why) != 0)
			fail_msg("real stream %s refused: %s", v[n], why);
		assert_int_equal(s.out, f.len);
		assert_true(s.prefix);
		free(f.buf);
	}
	assert_true(n >= 6); /* the corpus is there */
	free_names(v);
}

static void the_plaintext_send_of_encrypted_data_is_refused(void **state)
{
	(void)state;
	struct file f = slurp("decrypted-full", ".zstream");
	qz_stream_expect_t e = expect_of("decrypted-full");
	e.raw = true; /* what dom0 knows: the volume is encrypted */
	struct sink s;
	char why[256];
	assert_int_equal(verify(&e, &f, &s, why), EBADMSG);
	assert_int_equal(s.out, 0);
	assert_non_null(strstr(why, "not raw"));
	free(f.buf);
}

static void flipped_bits_in_real_streams_are_caught(void **state)
{
	(void)state;
	char **v = names(".zstream");
	for (size_t i = 0; v[i] != NULL; i++) {
		struct file f = slurp(v[i], ".zstream");
		qz_stream_expect_t e = expect_of(v[i]);
		for (size_t k = 0; k < 300; k++) {
			size_t pos = (k * 2654435761u) % f.len;
			/* a payload's trailing len % 4 bytes are outside fletcher-4: streams pad
			 * payloads to 8 bytes, so none is */
			f.buf[pos] ^= 0x08;
			struct sink s;
			char why[256];
			if (verify(&e, &f, &s, why) != EBADMSG)
				fail_msg("%s: a flip at %zu was not caught", v[i], pos);
			assert_true(s.prefix);
			assert_true(s.out <= pos);
			f.buf[pos] ^= 0x08;
		}
		free(f.buf);
	}
	free_names(v);
}

/* The MAC the verifier reads from BEGIN, NULL when it finds none. */
static bool mac_of(const char *name, uint8_t mac[QZ_OBJSET_MAC_LEN])
{
	struct file f = slurp(name, ".zstream");
	qz_stream_expect_t e = expect_of(name);
	struct sink s = {f.buf, 0, true};
	qz_verifier_t *v = NULL;
	assert_int_equal(qz_verifier_new(&e, sink_emit, &s, &v), 0);
	assert_int_equal(qz_verifier_feed(v, f.buf, f.len), 0);
	bool has = qz_verifier_objset_mac(v, mac);
	qz_verifier_free(v);
	free(f.buf);
	return has;
}

static void raw_streams_carry_the_objset_mac_dom0_can_demand(void **state)
{
	(void)state;
	uint8_t full[QZ_OBJSET_MAC_LEN], inc[QZ_OBJSET_MAC_LEN], none[QZ_OBJSET_MAC_LEN];
	assert_true(mac_of("raw-full", full));
	assert_true(mac_of("raw-incremental", inc));
	assert_false(mac_of("plain-full", none));
	assert_memory_not_equal(full, inc, sizeof(full)); /* two states, two MACs */
	/* what the verifier read is the value of crypt_keydata's portable_mac pair */
	struct file f = slurp("raw-full", ".zstream");
	const char key[] = "portable_mac";
	uint8_t *at = memmem(f.buf, f.len, key, sizeof(key));
	assert_non_null(at);
	assert_memory_equal(at + 16, full, sizeof(full)); /* the name padded to 16 bytes */
	/* the MAC dom0 recorded passes; any other is refused before a byte passes */
	qz_stream_expect_t e = expect_of("raw-full");
	e.objset_mac = full;
	struct sink s;
	char why[256];
	assert_int_equal(verify(&e, &f, &s, why), 0);
	assert_int_equal(s.out, f.len);
	full[7] ^= 1;
	assert_int_equal(verify(&e, &f, &s, why), EBADMSG);
	assert_int_equal(s.out, 0);
	assert_non_null(strstr(why, "another state"));
	free(f.buf);
	/* a raw stream that carries none is refused when dom0 recorded one */
	f = slurp("compressed-full", ".zstream");
	e = expect_of("compressed-full");
	e.objset_mac = full;
	assert_int_equal(verify(&e, &f, &s, why), EBADMSG);
	assert_int_equal(s.out, 0);
	free(f.buf);
}

static void real_tokens_parse_and_plan(void **state)
{
	(void)state;
	char **v = names(".token");
	size_t n = 0;
	for (; v[n] != NULL; n++) {
		struct file f = slurp(v[n], ".token");
		char *nl = strchr((char *)f.buf, '\n');
		if (nl != NULL)
			*nl = 0;
		qz_token_t t;
		char why[256];
		if (qz_token_parse((char *)f.buf, &t, why, sizeof(why)) != 0)
			fail_msg("real token %s refused: %s", v[n], why);
		assert_true(t.toguid != 0);
		free(f.buf);
	}
	assert_true(n >= 2);
	/* the raw token belongs to raw-full's snapshot, and plans as raw */
	struct file f = slurp("raw-full", ".token");
	*strchr((char *)f.buf, '\n') = 0;
	qz_token_t t;
	assert_int_equal(qz_token_parse((char *)f.buf, &t, NULL, 0), 0);
	qz_stream_expect_t e = expect_of("raw-full");
	assert_int_equal(t.toguid, e.toguid);
	assert_true(t.rawok);
	free(f.buf);
	free_names(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(real_streams_pass_unchanged),
	    cmocka_unit_test(the_plaintext_send_of_encrypted_data_is_refused),
	    cmocka_unit_test(raw_streams_carry_the_objset_mac_dom0_can_demand),
	    cmocka_unit_test(flipped_bits_in_real_streams_are_caught),
	    cmocka_unit_test(real_tokens_parse_and_plan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
