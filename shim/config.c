/* SPDX-License-Identifier: BSD-3-Clause */
/* Parsing of the shim's settings (see config.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define PORTS_ACCEPTED "a comma-separated list of ports or ranges, e.g. 6379 or 6379,7000-7010"
#define CONNECT_ACCEPTED                                                                           \
	"a comma-separated list of ADDR[/PREFIX][:PORT[-PORT]], e.g. 10.0.0.5:6379 or "            \
	"10.0.0.0/24:7000-7010"

void shim_config_init(struct shim_config *c)
{
	memset(c, 0, sizeof(*c));
	c->spin_us = 50;
	c->accept_kernel = true;
	c->trace = true;
	c->trace_conns = SHIM_TRACE_CONNS_DEFAULT;
}

static void set_err(char *err, size_t errlen, const char *key, const char *value,
                    const char *accepted)
{
	snprintf(err, errlen, "tpa: invalid %s='%s': expected %s", key, value, accepted);
}

/* Strict unsigned decimal in [lo, hi]; the whole string must be consumed. */
static bool parse_uint(const char *s, size_t len, unsigned long lo, unsigned long hi,
                       unsigned long *out)
{
	unsigned long v = 0;
	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* "P" or "P-Q" with 1 <= P <= Q <= 65535. */
static bool parse_port_range(const char *s, size_t len, uint16_t *lo, uint16_t *hi)
{
	const char *dash = memchr(s, '-', len);
	unsigned long a, b;
	if (!dash) {
		if (!parse_uint(s, len, 1, 65535, &a))
			return false;
		b = a;
	} else {
		if (!parse_uint(s, (size_t)(dash - s), 1, 65535, &a) ||
		    !parse_uint(dash + 1, len - (size_t)(dash - s) - 1, 1, 65535, &b) || b < a)
			return false;
	}
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return true;
}

static bool parse_ports(struct shim_config *c, const char *v)
{
	unsigned n = 0;
	struct shim_port_range tmp[SHIM_MAX_PORT_RANGES];
	const char *p = v;
	if (!*v)
		return false;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (n == SHIM_MAX_PORT_RANGES || !parse_port_range(p, len, &tmp[n].lo, &tmp[n].hi))
			return false;
		n++;
		if (!end)
			break;
		p = end + 1;
	}
	memcpy(c->ports, tmp, sizeof(tmp[0]) * n);
	c->n_ports = n;
	return true;
}

/* ADDR[/PREFIX][:PORT[-PORT]] */
static bool parse_dest(const char *s, size_t len, struct shim_dest *d)
{
	char buf[64];
	unsigned long prefix = 32;
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	d->port_lo = 1;
	d->port_hi = 65535;
	char *colon = strchr(buf, ':');
	if (colon) {
		*colon = '\0';
		if (!(colon[1] == '*' && colon[2] == '\0') &&
		    !parse_port_range(colon + 1, strlen(colon + 1), &d->port_lo, &d->port_hi))
			return false;
	}
	char *slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		if (!parse_uint(slash + 1, strlen(slash + 1), 0, 32, &prefix))
			return false;
	}
	struct in_addr a;
	if (inet_pton(AF_INET, buf, &a) != 1)
		return false;
	uint32_t mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
	d->mask_be = htonl(mask);
	d->net_be = a.s_addr & d->mask_be;
	return true;
}

static bool parse_dests(struct shim_config *c, const char *v)
{
	unsigned n = 0;
	struct shim_dest tmp[SHIM_MAX_DESTS];
	const char *p = v;
	if (!*v)
		return false;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (n == SHIM_MAX_DESTS || !parse_dest(p, len, &tmp[n]))
			return false;
		n++;
		if (!end)
			break;
		p = end + 1;
	}
	memcpy(c->dests, tmp, sizeof(tmp[0]) * n);
	c->n_dests = n;
	return true;
}

static bool parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "true")) {
		*out = true;
		return true;
	}
	if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "false")) {
		*out = false;
		return true;
	}
	return false;
}

enum shim_config_result shim_config_set(struct shim_config *c, const char *key, const char *value,
                                        char *err, size_t errlen)
{
	unsigned long n;
	if (!strcmp(key, "TPA_IFACE")) {
		size_t len = strlen(value);
		bool ok = len > 0 && len < IF_NAMESIZE;
		for (size_t i = 0; ok && i < len; i++)
			ok = isgraph((unsigned char)value[i]) && value[i] != '/' && value[i] != ':';
		if (!ok) {
			set_err(err, errlen, key, value,
			        "a network interface name of 1-15 characters, e.g. eth0");
			return SHIM_CONFIG_ERROR;
		}
		memcpy(c->iface, value, len + 1);
		return SHIM_CONFIG_OK;
	}
	if (!strcmp(key, "TPA_PORTS")) {
		if (!parse_ports(c, value)) {
			set_err(err, errlen, key, value, PORTS_ACCEPTED);
			return SHIM_CONFIG_ERROR;
		}
		return SHIM_CONFIG_OK;
	}
	if (!strcmp(key, "TPA_CONNECT")) {
		if (!parse_dests(c, value)) {
			set_err(err, errlen, key, value, CONNECT_ACCEPTED);
			return SHIM_CONFIG_ERROR;
		}
		return SHIM_CONFIG_OK;
	}
	if (!strcmp(key, "TPA_SPIN_US")) {
		if (!parse_uint(value, strlen(value), 0, 1000000, &n)) {
			set_err(err, errlen, key, value,
			        "microseconds to busy-poll before sleeping, 0-1000000");
			return SHIM_CONFIG_ERROR;
		}
		c->spin_us = (uint32_t)n;
		return SHIM_CONFIG_OK;
	}
	if (!strcmp(key, "TPA_BUSY_POLL") || !strcmp(key, "TPA_ACCEPT_KERNEL")) {
		bool *dst = key[4] == 'B' ? &c->busy_poll : &c->accept_kernel;
		if (!parse_bool(value, dst)) {
			set_err(err, errlen, key, value,
			        "0 or 1 (also no/yes, off/on, false/true)");
			return SHIM_CONFIG_ERROR;
		}
		if (key[4] == 'B')
			c->busy_poll_set = true;
		return SHIM_CONFIG_OK;
	}
	if (!strcmp(key, "TPA_TRACE")) {
		if (!parse_bool(value, &c->trace)) {
			set_err(err, errlen, key, value,
			        "0 or 1 (also no/yes, off/on, false/true)");
			return SHIM_CONFIG_ERROR;
		}
		return SHIM_CONFIG_OK;
	}
	if (!strcmp(key, "TPA_TRACE_CONNS")) {
		if (!parse_uint(value, strlen(value), 0, SHIM_TRACE_CONNS_MAX, &n)) {
			set_err(err, errlen, key, value, "connections traced at once, 0-65536");
			return SHIM_CONFIG_ERROR;
		}
		c->trace_conns = (uint32_t)n;
		return SHIM_CONFIG_OK;
	}
	if (!strcmp(key, "TPA_USER")) {
		size_t len = strlen(value);
		bool ok = len > 0 && len < sizeof(c->user);
		for (size_t i = 0; ok && i < len; i++)
			ok = isalnum((unsigned char)value[i]) || strchr("._-", value[i]);
		if (!ok) {
			set_err(err, errlen, key, value,
			        "a user name or uid of this host (letters, digits, . _ -), e.g. "
			        "redis");
			return SHIM_CONFIG_ERROR;
		}
		memcpy(c->user, value, len + 1);
		return SHIM_CONFIG_OK;
	}
	return SHIM_CONFIG_NOT_MINE;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t len = strlen(s);
	while (len && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	return s;
}

int shim_config_load_file(struct shim_config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "tpa: invalid TPA_CONFIG='%s': cannot open it: %s", path,
		         strerror(errno));
		return -1;
	}
	char line[512];
	unsigned lineno = 0;
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "tpa: %s:%u: line longer than %zu characters", path,
			         lineno, sizeof(line) - 2);
			rc = -1;
			break;
		}
		char *s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "tpa: %s:%u: expected KEY=VALUE, got '%s'", path,
			         lineno, s);
			rc = -1;
			break;
		}
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		char sub[384];
		enum shim_config_result r = shim_config_set(c, key, value, sub, sizeof(sub));
		if (r == SHIM_CONFIG_ERROR) {
			snprintf(err, errlen, "%s (%s:%u)", sub, path, lineno);
			rc = -1;
		} else if (r == SHIM_CONFIG_NOT_MINE) {
			if (strncmp(key, "TPA_", 4) != 0 ||
			    strlen(key) >= sizeof(c->engine[0].key) ||
			    strlen(value) >= SHIM_MAX_VALUE ||
			    c->n_engine == SHIM_MAX_ENGINE_SETTINGS) {
				snprintf(err, errlen,
				         "tpa: %s:%u: unknown setting '%s' (settings are TPA_* "
				         "names, see docs/configuration.md)",
				         path, lineno, key);
				rc = -1;
			} else {
				struct shim_engine_setting *e = &c->engine[c->n_engine++];
				strcpy(e->key, key);
				strcpy(e->value, value);
			}
		}
	}
	fclose(f);
	return rc;
}

int shim_config_load(struct shim_config *c, char *err, size_t errlen)
{
	static const char *const keys[] = {"TPA_IFACE",   "TPA_PORTS",     "TPA_CONNECT",
	                                   "TPA_SPIN_US", "TPA_BUSY_POLL", "TPA_ACCEPT_KERNEL",
	                                   "TPA_USER",    "TPA_TRACE",     "TPA_TRACE_CONNS"};
	const char *file = getenv("TPA_CONFIG");
	if (file && shim_config_load_file(c, file, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = getenv(keys[i]);
		if (v && shim_config_set(c, keys[i], v, err, errlen) != SHIM_CONFIG_OK)
			return -1;
	}
	if ((c->n_ports || c->n_dests) && !c->iface[0]) {
		snprintf(err, errlen,
		         "tpa: TPA_IFACE is not set: expected the name of the interface to "
		         "accelerate (e.g. eth0), required when TPA_PORTS or TPA_CONNECT is set");
		return -1;
	}
	return 0;
}

bool shim_config_enabled(const struct shim_config *c)
{
	return c->iface[0] && (c->n_ports || c->n_dests);
}

bool shim_config_port_selected(const struct shim_config *c, uint16_t port)
{
	for (unsigned i = 0; i < c->n_ports; i++)
		if (port >= c->ports[i].lo && port <= c->ports[i].hi)
			return true;
	return false;
}

bool shim_config_dest_selected(const struct shim_config *c, uint32_t ip_be, uint16_t port)
{
	for (unsigned i = 0; i < c->n_dests; i++) {
		const struct shim_dest *d = &c->dests[i];
		if ((ip_be & d->mask_be) == d->net_be && port >= d->port_lo && port <= d->port_hi)
			return true;
	}
	return false;
}
