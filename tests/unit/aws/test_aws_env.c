/* SPDX-License-Identifier: MIT */
/*
 * The AWS configuration conventions (registry/aws/aws_env.c): the shared
 * config file's profile settings and services sections, and the order in
 * which a configured ECR endpoint, the region and the CA bundle are taken
 * (the AWS SDKs' order, docs/ecr.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry/aws/aws_int.h"
#include "tap.h"

static const char config[] =
	"# comment\n"
	"[services local]\n"
	"ecr =\n"
	"  endpoint_url = http://127.0.0.1:4566\n"
	"  region = ignored\n"
	"s3 =\n"
	"  endpoint_url = http://127.0.0.1:9000\n"
	"\n"
	"[default]\n"
	"region = us-west-2\n"
	"endpoint_url = https://global.example\n"
	"\n"
	"[profile dev]\r\n"
	"region = eu-west-3\r\n"
	"services = local\r\n"
	"ca_bundle = /etc/dev-ca.pem\r\n"
	"\n"
	"[profile quiet]\n"
	"services = local\n"
	"ignore_configured_endpoint_urls = true\n"
	"[profile s3only]\n"
	"services = s3side\n"
	"[services s3side]\n"
	"s3 =\n"
	"  endpoint_url = http://s3.local\n";

static void scan(void)
{
	struct reg_aws_settings s;

	reg_aws_config_scan(config, strlen(config), "default", &s);
	is_str(s.region, "us-west-2", "[default] region");
	is_str(s.endpoint_url, "https://global.example", "[default] endpoint_url");
	is_str(s.ecr_endpoint_url, "", "[default] names no services section");
	reg_aws_config_scan(config, strlen(config), "dev", &s);
	is_str(s.region, "eu-west-3", "[profile dev] region (CRLF lines)");
	is_str(s.services, "local", "[profile dev] services");
	is_str(s.ecr_endpoint_url, "http://127.0.0.1:4566",
	       "the services section before the profile: its ecr endpoint_url");
	is_str(s.endpoint_url, "", "no global endpoint_url in dev");
	is_str(s.ca_bundle, "/etc/dev-ca.pem", "ca_bundle");
	reg_aws_config_scan(config, strlen(config), "quiet", &s);
	ok(s.ignore_endpoints, "ignore_configured_endpoint_urls = true");
	reg_aws_config_scan(config, strlen(config), "s3only", &s);
	is_str(s.ecr_endpoint_url, "", "another service's endpoint is not ECR's");
	reg_aws_config_scan(config, strlen(config), "missing", &s);
	ok(!s.region[0] && !s.endpoint_url[0], "an absent profile sets nothing");
	reg_aws_config_scan("[profile dev]\nregion", 18, "dev", &s);
	is_str(s.region, "", "a key without '=' at the end of the text");
}

static char cfg_path[] = "/tmp/test_aws_env_XXXXXX";

static void endpoint_is(const char *want, const char *from_want, const char *desc)
{
	char ep[REG_AWS_MAX_URL];
	const char *from = NULL;
	int r = reg_aws_ecr_endpoint_configured(NULL, ep, sizeof(ep), &from);

	if (!want) {
		is_int(r, -ENOENT, "%s: none configured", desc);
		return;
	}
	ok(r == 0 && strcmp(ep, want) == 0, "%s: '%s'", desc, r == 0 ? ep : "(none)");
	is_str(from, from_want, "%s: from %s", desc, from_want);
}

static void precedence(void)
{
	struct reg_aws_opts o = { .ecr_endpoint = "https://explicit.example" };
	char ep[REG_AWS_MAX_URL], region[64], ca[1024];
	const char *from;
	int fd = mkstemp(cfg_path);

	if (!ok(fd >= 0 && write(fd, config, strlen(config)) == (ssize_t)strlen(config),
		"config file written"))
		return;
	close(fd);
	setenv("AWS_CONFIG_FILE", cfg_path, 1);
	setenv("AWS_PROFILE", "dev", 1);
	setenv("AWS_ENDPOINT_URL_ECR", "http://ecr-env", 1);
	setenv("AWS_ENDPOINT_URL", "http://global-env", 1);
	ok(reg_aws_ecr_endpoint_configured(&o, ep, sizeof(ep), &from) == 0 &&
		   strcmp(ep, "https://explicit.example") == 0,
	   "1. the caller's endpoint first");
	endpoint_is("http://ecr-env", "AWS_ENDPOINT_URL_ECR", "2. AWS_ENDPOINT_URL_ECR");
	unsetenv("AWS_ENDPOINT_URL_ECR");
	endpoint_is("http://global-env", "AWS_ENDPOINT_URL", "3. AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL");
	endpoint_is("http://127.0.0.1:4566", "the config file's services section",
		    "4. the profile's services section");
	setenv("AWS_PROFILE", "default", 1);
	endpoint_is("https://global.example", "the config file's endpoint_url",
		    "5. the profile's endpoint_url");
	setenv("AWS_PROFILE", "quiet", 1);
	endpoint_is(NULL, NULL, "ignore_configured_endpoint_urls in the profile");
	setenv("AWS_PROFILE", "dev", 1);
	setenv("AWS_ENDPOINT_URL_ECR", "http://ecr-env", 1);
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
	endpoint_is(NULL, NULL, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true");
	ok(reg_aws_ecr_endpoint_configured(&o, ep, sizeof(ep), &from) == 0,
	   "but never the caller's own endpoint");
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	unsetenv("AWS_ENDPOINT_URL_ECR");

	setenv("AWS_REGION", "ap-south-1", 1);
	setenv("AWS_DEFAULT_REGION", "sa-east-1", 1);
	ok(reg_aws_region(NULL, region, sizeof(region)) == 0 && !strcmp(region, "ap-south-1"),
	   "AWS_REGION over AWS_DEFAULT_REGION");
	unsetenv("AWS_REGION");
	ok(reg_aws_region(NULL, region, sizeof(region)) == 0 && !strcmp(region, "sa-east-1"),
	   "AWS_DEFAULT_REGION over the profile");
	unsetenv("AWS_DEFAULT_REGION");
	ok(reg_aws_region(NULL, region, sizeof(region)) == 0 && !strcmp(region, "eu-west-3"),
	   "the profile's region last");

	setenv("AWS_CA_BUNDLE", "/etc/env-ca.pem", 1);
	ok(reg_aws_ca_bundle(NULL, ca, sizeof(ca)) == 0 && !strcmp(ca, "/etc/env-ca.pem"),
	   "AWS_CA_BUNDLE over the profile's ca_bundle");
	unsetenv("AWS_CA_BUNDLE");
	ok(reg_aws_ca_bundle(NULL, ca, sizeof(ca)) == 0 && !strcmp(ca, "/etc/dev-ca.pem"),
	   "the profile's ca_bundle");
	setenv("AWS_PROFILE", "default", 1);
	is_int(reg_aws_ca_bundle(NULL, ca, sizeof(ca)), -ENOENT, "none: the system's bundle");
	unlink(cfg_path);
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
	endpoint_is(NULL, NULL, "no config file");
}

int main(void)
{
	unsetenv("AWS_ENDPOINT_URL_ECR");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_CA_BUNDLE");
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	scan();
	precedence();
	return tap_done();
}
