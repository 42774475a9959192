#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check_cfn.py must fail on broken examples: each mutation of a copy of
# examples/codebuild is one case that the checker has to reject. TAP.
set -uo pipefail
SRC=${SRCDIR:-$(dirname "$0")/../../..}
T=$(mktemp -d /tmp/stratafs-cfn.XXXXXX)
trap 'rm -rf "$T"' EXIT
n=0
failed=0
case_() { # DESC SED-FILE SED-EXPR
	local desc=$1 file=$2 expr=$3
	n=$((n + 1))
	rm -rf "$T/ex" && cp -r "$SRC/examples/codebuild" "$T/ex"
	sed -i -e "$expr" "$T/ex/$file"
	if cmp -s "$T/ex/$file" "$SRC/examples/codebuild/$file"; then
		echo "not ok $n - $desc (the mutation changed nothing)"
		failed=$((failed + 1))
	elif /usr/bin/python3 "$SRC/tests/integration/aws/check_cfn.py" "$T/ex" >"$T/out" 2>&1; then
		echo "not ok $n - $desc (accepted)"
		failed=$((failed + 1))
	else
		echo "ok $n - $desc"
	fi
}
n=$((n + 1))
if /usr/bin/python3 "$SRC/tests/integration/aws/check_cfn.py" "$SRC/examples/codebuild" >/dev/null; then
	echo "ok $n - the examples as they are pass"
else
	echo "not ok $n - the examples as they are pass"
	failed=$((failed + 1))
fi
case_ "an ECR action missing from the template" template.yml '/- ecr:PutImage/d'
case_ "an extra action in iam-policy.json" iam-policy.json 's/"ecr:PutImage"/"ecr:PutImage", "ecr:DeleteRepository"/'
case_ "project not privileged" template.yml 's/PrivilegedMode: true/PrivilegedMode: false/'
case_ "Ref to an undefined name" template.yml 's/Image: !Ref BuildImage/Image: !Ref NoSuchParam/'
case_ "GetAtt of an undefined resource" template.yml 's/!GetAtt BuildRole.Arn/!GetAtt NoRole.Arn/'
case_ "Sub of an undefined name" template.yml 's/\${RepositoryName}-build/${NoName}-build/'
case_ "a resource type removed" template.yml 's/Type: AWS::ECR::Repository/Type: AWS::S3::Bucket/'
case_ "CodeBuild project without Artifacts" template.yml '/Artifacts:/,/Type: NO_ARTIFACTS/d'
case_ "push actions on every resource" template.yml '0,/Resource: !GetAtt CacheRepository.Arn/! s/Resource: !GetAtt CacheRepository.Arn/Resource: "*"/'
case_ "immutable cache tags" template.yml 's/ImageTagMutability: MUTABLE/ImageTagMutability: IMMUTABLE/'
case_ "buildspec does not parse" buildspec.yml 's/^phases:/phases: [/'
case_ "a command that YAML reads as a mapping" buildspec.yml "s/- 'export AWS_ACCOUNT_ID=\\(.*\\)'$/- export AWS_ACCOUNT_ID=\\1/"
case_ "buildspec without the overlay" buildspec.yml 's/mount -t overlay overlay/mount --bind/'
case_ "buildspec without the commit" buildspec.yml 's/strata commit/echo strata-commit/'
case_ "commit of a mounted cache without --base" buildspec.yml 's/ --base "\$CACHE_ROOT\/lower"//'
case_ "commit without --max-layers" buildspec.yml '0,/ --max-layers 10/s/ --max-layers 10//'
case_ "overlay without redirect_dir=off" buildspec.yml 's/,redirect_dir=off//'
case_ "commit of a failed build" buildspec.yml 's/"\$CODEBUILD_BUILD_SUCCEEDING" = 1/"1" = 1/'
case_ "buildspec run by /bin/sh" buildspec.yml 's/^  shell: bash/  shell: \/bin\/sh/'
case_ "template does not parse" template.yml 's/^Resources:/Resources: [/'
echo "1..$n"
[ "$failed" -eq 0 ]
