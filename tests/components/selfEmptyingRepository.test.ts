// SelfEmptyingRepository in `cloudformation` mode under the mock runtime: function, scoped role, and the stack.
import * as assert from "node:assert/strict";
import { ACCOUNT_ID, dependenciesOf, outputValue, REGION, registrations, urnOf } from "../setup";

const PARENT = "image-janitor:ecr:SelfEmptyingRepository";
const REPO_ARN = `arn:aws:ecr:${REGION}:${ACCOUNT_ID}:repository/cfn-images`;

describe("SelfEmptyingRepository in cloudformation mode (mock runtime)", () => {
    const mine = () => registrations.filter((r) => r.name.startsWith("cfnrepo"));
    const one = (type: string) => {
        const found = mine().filter((r) => r.type === type);
        assert.equal(found.length, 1, type);
        return found[0];
    };

    before(async () => {
        const { SelfEmptyingRepository } = await import("../../components/selfEmptyingRepository");
        const repo = new SelfEmptyingRepository("cfnrepo", {
            repositoryName: "cfn-images",
            emptyMode: "cloudformation",
            keepImages: 0,
            untaggedExpiryDays: 0,
            immutableTags: true,
            logRetentionDays: 7,
        });
        await outputValue(repo.repositoryUrl);
        await new Promise((r) => setTimeout(r, 200));
    });

    it("declares a function and a CloudFormation stack instead of the dynamic resource", () => {
        assert.deepEqual(
            mine()
                .map((r) => r.type)
                .sort(),
            [
                "aws:cloudformation/stack:Stack",
                "aws:cloudwatch/logGroup:LogGroup",
                "aws:iam/role:Role",
                "aws:iam/rolePolicy:RolePolicy",
                "aws:lambda/function:Function",
                "awsx:ecr:Repository",
                PARENT,
            ],
        );
    });

    it("skips the lifecycle policy when both rules are off, and makes tags immutable", () => {
        const repo = one("awsx:ecr:Repository");
        assert.deepEqual(
            [repo.inputs.lifecyclePolicy, repo.inputs.imageTagMutability, repo.inputs.forceDelete],
            [{ skip: true }, "IMMUTABLE", false],
        );
    });

    it("lets the function list and delete images in this repository only", () => {
        const policy = JSON.parse(one("aws:iam/rolePolicy:RolePolicy").inputs.policy as string);
        assert.deepEqual(policy, {
            Version: "2012-10-17",
            Statement: [
                {
                    Sid: "WriteOwnLogs",
                    Effect: "Allow",
                    Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
                    Resource: `arn:aws:logs:${REGION}:${ACCOUNT_ID}:log-group:cfnrepo-emptier-0a1b2c3:*`,
                },
                {
                    Sid: "EmptyRepository",
                    Effect: "Allow",
                    Action: ["ecr:ListImages", "ecr:BatchDeleteImage"],
                    Resource: REPO_ARN,
                },
            ],
        });
        const fn = one("aws:lambda/function:Function");
        assert.deepEqual(
            [fn.inputs.runtime, fn.inputs.handler, fn.inputs.timeout],
            ["nodejs22.x", "index.handler", 900],
        );
        assert.equal(one("aws:cloudwatch/logGroup:LogGroup").inputs.retentionInDays, 7);
    });

    it("deploys the custom resource in a stack that depends on the repository and the function", () => {
        const stack = one("aws:cloudformation/stack:Stack");
        assert.deepEqual(JSON.parse(stack.inputs.templateBody as string).Resources, {
            EmptyOnDelete: {
                Type: "Custom::EmptyEcrRepository",
                Properties: {
                    ServiceToken: `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:cfnrepo-emptier-0a1b2c3`,
                    ServiceTimeout: 930,
                    RepositoryName: "cfn-images",
                    RegistryId: ACCOUNT_ID,
                },
            },
        });
        const deps = dependenciesOf("aws:cloudformation/stack:Stack", "cfnrepo-emptier");
        assert.ok(deps.byProperty.templateBody.includes(urnOf("awsx:ecr:Repository", "cfnrepo", PARENT)));
        assert.ok(
            deps.byProperty.templateBody.includes(
                urnOf("aws:lambda/function:Function", "cfnrepo-emptier", PARENT),
            ),
        );
    });

    it("rejects an unknown empty mode, naming it", async () => {
        const { SelfEmptyingRepository } = await import("../../components/selfEmptyingRepository");
        assert.throws(() => new SelfEmptyingRepository("badmode", { emptyMode: "terraform" as never }), {
            message: 'emptyMode must be one of dynamic, cloudformation (got "terraform")',
        });
    });
});
