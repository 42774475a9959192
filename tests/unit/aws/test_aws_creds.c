/* SPDX-License-Identifier: MIT */
/*
 * The credential chain without a network: environment, shared credentials
 * and config files (temp files), profiles and precedence, credential_process,
 * the credentials JSON and ISO 8601 times, the FULL_URI host rule, and the
 * token cache file (0600, keyed, half-life freshness), which is neither
 * read nor written in a dir we do not control (symlinked, another uid's,
 * group-writable) nor through a planted file name. Runs as root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "registry/aws/aws.h"
#include "tap.h"

static char dir[] = "/tmp/stratafs-aws-test.XXXXXX";
static char cred_path[256], conf_path[256];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

static void clear_env(void)
{
	static const char *const vars[] = {
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
		"STRATAFS_AWS_CONTAINER_HOST",
	};
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("HOME", dir, 1); /* no ~/.aws there */
}

static void env_provider(void)
{
	struct reg_aws_opts o = { 0 };
	struct reg_aws_creds c;

	clear_env();
	is_int(reg_aws_creds_get(&o, &c), -ENOENT, "nothing configured: -ENOENT");
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	is_int(reg_aws_creds_from_env(&c), -ENOENT, "key id without secret is ignored");
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	setenv("AWS_SESSION_TOKEN", "envtoken", 1);
	is_int(reg_aws_creds_get(&o, &c), 0, "env credentials");
	is_str(c.access_key_id, "AKIDENV", "env key id");
	is_str(c.secret_access_key, "envsecret", "env secret");
	is_str(c.session_token, "envtoken", "env session token");
	is_str(c.source, "env", "source env");
	is_int(c.expiration, 0, "env credentials do not expire");
	reg_aws_creds_wipe(&c);
	is_str(c.secret_access_key, "", "wipe clears the secret");
}

static void profiles(void)
{
	struct reg_aws_opts o = { 0 };
	struct reg_aws_creds c;

	clear_env();
	write_file(cred_path, "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\n"
			      "aws_secret_access_key=defsecret\n\n[dev]\n"
			      "  aws_access_key_id = AKIDDEV  \naws_secret_access_key = devsecret\n"
			      "aws_session_token = devtoken\r\n");
	write_file(conf_path, "[default]\nregion = us-east-1\n[profile dev]\n"
			      "aws_access_key_id = AKIDCONFDEV\naws_secret_access_key = x\n"
			      "[profile conf-only]\naws_access_key_id = AKIDCONF\n"
			      "aws_secret_access_key = confsecret\n"
			      "[profile proc]\ncredential_process = printf '{\"Version\":1,"
			      "\"AccessKeyId\":\"AKIDPROC\",\"SecretAccessKey\":\"procsecret\","
			      "\"SessionToken\":\"proctoken\","
			      "\"Expiration\":\"2030-01-01T00:00:00Z\"}'\n"
			      "[profile badproc]\ncredential_process = false\n"
			      "[profile flood]\ncredential_process = yes\n"
			      "[profile role]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = dev\n"
			      "[profile empty]\nregion = eu-west-1\n");
	setenv("AWS_SHARED_CREDENTIALS_FILE", cred_path, 1);
	setenv("AWS_CONFIG_FILE", conf_path, 1);

	is_int(reg_aws_creds_get(&o, &c), 0, "default profile");
	is_str(c.access_key_id, "AKIDDEFAULT", "default profile key id");
	is_str(c.source, "profile:default", "source profile:default");

	setenv("AWS_PROFILE", "dev", 1);
	is_int(reg_aws_creds_get(&o, &c), 0, "AWS_PROFILE=dev");
	is_str(c.access_key_id, "AKIDDEV", "credentials file wins over config, value trimmed");
	is_str(c.session_token, "devtoken", "session token from the profile, CR stripped");

	o.profile = "conf-only";
	is_int(reg_aws_creds_get(&o, &c), 0, "opts profile wins over AWS_PROFILE");
	is_str(c.access_key_id, "AKIDCONF", "profile only in the config file");

	o.profile = "proc";
	is_int(reg_aws_creds_get(&o, &c), 0, "credential_process profile");
	is_str(c.access_key_id, "AKIDPROC", "credential_process key id");
	is_str(c.session_token, "proctoken", "credential_process SessionToken");
	is_int(c.expiration, 1893456000, "credential_process Expiration");
	is_str(c.source, "process", "source process");

	o.profile = "badproc";
	ok(reg_aws_creds_get(&o, &c) < 0, "a failing credential_process fails");
	o.profile = "flood";
	is_int(reg_aws_creds_from_profile("flood", true, &o, &c), -EFBIG,
	       "an endless credential_process is cut at the ceiling (and killed)");
	o.profile = "nosuch";
	is_int(reg_aws_creds_get(&o, &c), -ENOENT, "a named profile that does not exist");
	is_int(reg_aws_creds_from_profile("nosuch", true, &o, &c), -ESRCH,
	       "provider says -ESRCH for a missing named profile");
	o.profile = "role";
	is_int(reg_aws_creds_get(&o, &c), -ENOENT, "role_arn profile: unsupported, chain goes on");
	o.profile = "empty";
	is_int(reg_aws_creds_get(&o, &c), -ENOENT, "a profile without keys: chain goes on");

	o.profile = NULL;
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	is_int(reg_aws_creds_get(&o, &c), 0, "env and profile both set");
	is_str(c.access_key_id, "AKIDENV", "environment wins over the profile");
	reg_aws_creds_wipe(&c);
}

static void container_rules(void)
{
	struct reg_aws_opts o = { .timeout_ms = 500 };
	struct reg_aws_creds c;

	clear_env();
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.1/creds", 1);
	is_int(reg_aws_creds_get(&o, &c), -EACCES, "FULL_URI on a plain-HTTP foreign host refused");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.2.evil.com/x", 1);
	is_int(reg_aws_creds_from_container(&o, &c), -EACCES, "look-alike host refused");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/creds", 1);
	ok(reg_aws_creds_from_container(&o, &c) == -EHOSTUNREACH,
	   "loopback FULL_URI allowed (nothing listens: unreachable)");
	clear_env();
}

static void json_and_time(void)
{
	static const char doc[] = "{\"AccessKeyId\":\"ASIAX\",\"SecretAccessKey\":\"s\","
				  "\"Token\":\"t\",\"Expiration\":\"2017-12-24T03:14:03Z\","
				  "\"RoleArn\":\"arn\"}";
	struct reg_aws_creds c;
	time_t t;

	is_int(reg_aws_creds_parse_json(doc, strlen(doc), "container", &c), 0, "container JSON");
	is_str(c.session_token, "t", "Token key");
	is_int(c.expiration, 1514085243, "Expiration parsed");
	is_int(reg_aws_creds_parse_json("{\"AccessKeyId\":\"a\"}", 19, "x", &c), -EBADMSG,
	       "missing secret -> EBADMSG");
	is_int(reg_aws_creds_parse_json("{]", 2, "x", &c), -EBADMSG, "bad JSON -> EBADMSG");
	{
		/* jansson's error text quotes the token it stopped at: never logged */
		static const char broken[] = "{\"SecretAccessKey\": wJalrXUtnFEMIK7MDENG}";
		char path[300], logged[512] = "";
		int saved = dup(2), fd;
		enum log_level lvl = log_get_level();
		ssize_t n = 0;

		snprintf(path, sizeof(path), "%s/log", dir);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		log_set_level(LOG_LVL_DEBUG);
		dup2(fd, 2);
		is_int(reg_aws_creds_parse_json(broken, strlen(broken), "x", &c), -EBADMSG,
		       "a secret outside quotes -> EBADMSG");
		dup2(saved, 2);
		close(saved);
		log_set_level(lvl);
		n = pread(fd, logged, sizeof(logged) - 1, 0);
		close(fd);
		logged[n > 0 ? n : 0] = '\0';
		ok(strstr(logged, "not JSON (line 1") != NULL, "... logged with its line and column");
		ok(strstr(logged, "wJalrX") == NULL, "... and no piece of the secret");
	}
	is_int(reg_aws_parse_iso8601("2026-11-28T05:00:00.123Z", &t), 0, "fraction accepted");
	is_int(t, 1795842000, "2026-11-28T05:00:00Z");
	is_int(reg_aws_parse_iso8601("2026-11-28T07:00:00+02:00", &t), 0, "offset accepted");
	is_int(t, 1795842000, "offset applied");
	ok(reg_aws_parse_iso8601("2026-11-28 05:00:00", &t) < 0, "no 'T' refused");
	ok(reg_aws_parse_iso8601("2026-11-28T05:00:00", &t) < 0, "no zone refused");
	ok(reg_aws_parse_iso8601("2026-13-28T05:00:00Z", &t) < 0, "month 13 refused");
	c.expiration = 1000;
	ok(reg_aws_creds_expiring(&c, 701, 300), "expiring within the margin");
	ok(!reg_aws_creds_expiring(&c, 699, 300), "not expiring before the margin");
	c.expiration = 0;
	ok(!reg_aws_creds_expiring(&c, 1 << 30, 300), "no expiration never expires");
}

static void cache(void)
{
	struct reg_ecr_host h;
	struct reg_ecr_cached in = { .token = (char *)"QVdTOnB3", .requested_at = 1000,
				     .expires_at = 1000 + 43200 };
	struct reg_ecr_cached out;
	char cdir[300], path[600];
	struct stat st;

	snprintf(cdir, sizeof(cdir), "%s/cache", dir);
	reg_ecr_host_parse("123456789012.dkr.ecr.us-east-1.amazonaws.com", &h);
	is_int(reg_ecr_cache_load(cdir, &h, "AKID1", &out), -ENOENT, "empty cache");
	is_int(reg_ecr_cache_store(cdir, &h, "AKID1", &in), 0, "store");
	ok(stat(cdir, &st) == 0 && (st.st_mode & 0777) == 0700, "cache dir is 0700");
	snprintf(path, sizeof(path), "%s/ecr-123456789012-us-east-1-", cdir);
	{
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "test \"$(stat -c %%a %s*.json)\" = 600", path);
		is_int(system(cmd), 0, "cache file is 0600");
		snprintf(cmd, sizeof(cmd), "! grep -rq AKID1 %s", cdir);
		is_int(system(cmd), 0, "the access key id is not in the cache dir");
	}
	is_int(reg_ecr_cache_load(cdir, &h, "AKID1", &out), 0, "load");
	is_str(out.token, "QVdTOnB3", "token round trip");
	is_int(out.expires_at, 44200, "expiry round trip");
	ok(reg_ecr_cached_is_fresh(&out, 1000 + 21599), "fresh before half-life");
	ok(!reg_ecr_cached_is_fresh(&out, 1000 + 21600), "stale at half-life");
	reg_ecr_cached_release(&out);
	is_int(reg_ecr_cache_load(cdir, &h, "AKID2", &out), -ENOENT, "another key: another entry");
	{
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "chmod 644 %s*.json", path);
		is_int(system(cmd), 0, "make the file world-readable");
	}
	is_int(reg_ecr_cache_load(cdir, &h, "AKID1", &out), -ENOENT,
	       "a world-readable cache file is not trusted");
	{
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "! ls %s*.json 2>/dev/null", path);
		is_int(system(cmd), 0, "and it is removed");
	}
}

/* The token file's name in @cdir (the first "ecr-*.json"); "" when none. */
static void token_file(const char *cdir, char *out, size_t n)
{
	struct dirent *de;
	DIR *d = opendir(cdir);

	out[0] = '\0';
	while (d && (de = readdir(d)))
		if (strncmp(de->d_name, "ecr-", 4) == 0 && !strstr(de->d_name, ".tmp."))
			snprintf(out, n, "%s", de->d_name);
	if (d)
		closedir(d);
}

static int sh(const char *cmd)
{
	char full[1200];

	snprintf(full, sizeof(full), "cd '%s' && %s", dir, cmd);
	return system(full);
}

static void cache_hostile(void)
{
	struct reg_ecr_cached in = { .token = (char *)"R09PRDpwdw==", .requested_at = 1000,
				     .expires_at = 1000 + 43200 };
	struct reg_ecr_cached evil = { .token = (char *)"RVZJTDpwdw==", .requested_at = 1000,
				       .expires_at = 1000 + 43200 };
	struct reg_ecr_cached out = { 0 };
	struct reg_ecr_host h;
	char good[300], p[300], name[256], cmd[900];
	struct stat st;

	reg_ecr_host_parse("123456789012.dkr.ecr.us-east-1.amazonaws.com", &h);
	is_int(geteuid(), 0, "runs as root (chown to nobody)");
	snprintf(good, sizeof(good), "%s/good", dir);
	is_int(reg_ecr_cache_store(good, &h, "AKID1", &evil), 0, "a token file in a good dir");
	token_file(good, name, sizeof(name));
	ok(name[0] != '\0', "its name: '%s'", name);

	/* symlinked dir, symlinked path component: the good file is not read through them */
	sh("ln -s good linked && mkdir -p real && ln -s real via");
	snprintf(p, sizeof(p), "%s/linked", dir);
	is_int(reg_ecr_cache_load(p, &h, "AKID1", &out), -ENOENT, "not read through a symlinked dir");
	ok(reg_ecr_cache_store(p, &h, "AKID1", &in) < 0, "nor written");
	snprintf(p, sizeof(p), "%s/via/tokens", dir);
	ok(reg_ecr_cache_store(p, &h, "AKID1", &in) < 0, "a symlink on the path: not written");
	ok(stat(p, &st) < 0, "... and nothing created through it");

	/* another user's dir holding a token of their choice, 0600 and "ours" */
	sh("mkdir theirs && cp -p good/ecr-* theirs/ && chown 65534 theirs");
	snprintf(p, sizeof(p), "%s/theirs", dir);
	is_int(reg_ecr_cache_load(p, &h, "AKID1", &out), -ENOENT, "not read from a dir of nobody");
	ok(reg_ecr_cache_store(p, &h, "AKID1", &in) < 0, "nor written there");
	sh("mkdir gw && cp -p good/ecr-* gw/ && chmod 0770 gw");
	snprintf(p, sizeof(p), "%s/gw", dir);
	is_int(reg_ecr_cache_load(p, &h, "AKID1", &out), -ENOENT, "not read from a 0770 dir");
	ok(reg_ecr_cache_store(p, &h, "AKID1", &in) < 0, "nor written there");

	/* in a good dir: a file of another uid, a symlinked file */
	snprintf(cmd, sizeof(cmd), "chown 65534 good/%s", name);
	sh(cmd);
	is_int(reg_ecr_cache_load(good, &h, "AKID1", &out), -ENOENT, "a file of nobody is not read");
	is_int(reg_ecr_cache_store(good, &h, "AKID1", &evil), 0, "store again");
	snprintf(cmd, sizeof(cmd), "echo keep >victim && chmod 600 victim && "
		 "mv good/%s other.json && ln -s ../other.json good/%s", name, name);
	sh(cmd);
	is_int(reg_ecr_cache_load(good, &h, "AKID1", &out), -ENOENT, "a symlinked file is not read");
	snprintf(p, sizeof(p), "%s/other.json", dir);
	ok(stat(p, &st) == 0, "... its target is left alone");

	/* the temporary name taken by a symlink to a victim: never written through */
	snprintf(cmd, sizeof(cmd), "ln -sf ../victim good/%s.tmp.%ld", name, (long)getpid());
	sh(cmd);
	is_int(reg_ecr_cache_store(good, &h, "AKID1", &in), 0, "store with the temp name taken");
	is_int(sh("test \"$(cat victim)\" = keep"), 0, "the victim is unchanged");
	is_int(reg_ecr_cache_load(good, &h, "AKID1", &out), 0, "the stored token loads");
	is_str(out.token, "R09PRDpwdw==", "... ours");
	reg_ecr_cached_release(&out);
	snprintf(cmd, sizeof(cmd), "test \"$(stat -c %%a good/%s)\" = 600", name);
	is_int(sh(cmd), 0, "... in a 0600 file");
}

int main(void)
{
	char cmd[300];

	if (!mkdtemp(dir))
		return 1;
	snprintf(cred_path, sizeof(cred_path), "%s/credentials", dir);
	snprintf(conf_path, sizeof(conf_path), "%s/config", dir);
	env_provider();
	profiles();
	container_rules();
	json_and_time();
	cache();
	cache_hostile();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return tap_done();
}
