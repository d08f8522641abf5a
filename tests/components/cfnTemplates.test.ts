// The CloudFormation templates: the committed standalone template is fresh, fits the inline limit, and is scoped.
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { INLINE_CODE_LIMIT, inlineHandlerCode } from "../../components/bundle";
import { CUSTOM_RESOURCE_TYPE, customResourceTemplate } from "../../components/cfnTemplates";
import { renderTemplate, TEMPLATE_PATH } from "../../scripts/generate-cfn-template";

describe("CloudFormation templates", () => {
    it("the committed standalone template is what `npm run generate:cfn` writes from the current source", () => {
        assert.equal(
            readFileSync(TEMPLATE_PATH, "utf8"),
            renderTemplate(),
            "stale: run npm run generate:cfn and commit the result",
        );
    });

    it("inlines handler code under CloudFormation's 4096-character ZipFile limit, using the runtime's SDK", () => {
        const code = inlineHandlerCode();
        assert.ok(code.length < INLINE_CODE_LIMIT, `${code.length} characters`);
        assert.match(code, /require\("@aws-sdk\/client-ecr"\)/);
        assert.match(code, /module\.exports=\{handler:/);
    });

    it("scopes the function to its repository and orders the custom resource before the repository", () => {
        const t = JSON.parse(readFileSync(TEMPLATE_PATH, "utf8"));
        const r = t.Resources;
        assert.deepEqual(r.EmptierRole.Properties.Policies[0].PolicyDocument.Statement, [
            {
                Sid: "WriteOwnLogs",
                Effect: "Allow",
                Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
                // AWS::Logs::LogGroup's Arn attribute is `arn:…:log-group:NAME:*`: appending `:*` would match nothing.
                Resource: { "Fn::GetAtt": ["EmptierLogGroup", "Arn"] },
            },
            {
                Sid: "EmptyRepository",
                Effect: "Allow",
                Action: ["ecr:ListImages", "ecr:BatchDeleteImage"],
                Resource: { "Fn::GetAtt": ["Repository", "Arn"] },
            },
        ]);
        assert.deepEqual(r.EmptyOnDelete, {
            Type: CUSTOM_RESOURCE_TYPE,
            Properties: {
                ServiceToken: { "Fn::GetAtt": ["EmptierFunction", "Arn"] },
                // CloudFormation waits this long for an answer instead of an hour (at most 3600 s).
                ServiceTimeout: 930,
                RepositoryName: { Ref: "Repository" },
            },
        });
        assert.equal(r.EmptierFunction.Properties.Runtime, "nodejs22.x");
        assert.equal(r.EmptierFunction.Properties.Code.ZipFile, inlineHandlerCode());
    });

    it("builds the custom-resource-only template Pulumi's cloudformation mode deploys", () => {
        assert.deepEqual(
            customResourceTemplate({
                serviceToken: "arn:fn",
                repositoryName: "web",
                registryId: "111122223333",
            }).Resources,
            {
                EmptyOnDelete: {
                    Type: CUSTOM_RESOURCE_TYPE,
                    Properties: {
                        ServiceToken: "arn:fn",
                        ServiceTimeout: 930,
                        RepositoryName: "web",
                        RegistryId: "111122223333",
                    },
                },
            },
        );
    });
});
