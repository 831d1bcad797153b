/* See store_proto.h. */
#include "store_proto.h"

bool qz_store_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > QZ_STORE_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}
