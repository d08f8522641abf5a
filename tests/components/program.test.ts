// The whole Pulumi program under the mock runtime: what `pulumi up` would declare, input by input.
import * as assert from "node:assert/strict";
import { pageStates } from "../helpers";
import {
    ACCOUNT_ID,
    dependenciesOf,
    outputValue,
    parentTypeOf,
    REGION,
    registered,
    registrations,
    urnOf,
} from "../setup";

const FN = (name: string) =>
    `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:ami-cleanup-us-east-1-${name}-0a1b2c3`;
const LOGS = (name: string) =>
    `arn:aws:logs:${REGION}:${ACCOUNT_ID}:log-group:ami-cleanup-us-east-1-${name}-0a1b2c3`;

/** The program's own registrations: other test files declare components of their own in the same runtime. */
const PROGRAM_NAMES = /^(ami-cleanup|images)(-|$)/;
const ofProgram = (type: string) => registered(type).filter((r) => PROGRAM_NAMES.test(r.name));

describe("Pulumi program (mock runtime)", () => {
    // biome-ignore lint/suspicious/noExplicitAny: the program module's exports are outputs of several shapes
    let program: any;

    before(async () => {
        program = await import("../../index");
        await outputValue(program.stateMachineArns);
        await outputValue(program.scheduleNames);
    });

    it("declares exactly the AMI cleanup and the self-emptying repository, each under its component", () => {
        const mine = registrations.filter((r) => PROGRAM_NAMES.test(r.name));
        const counts: Record<string, number> = {};
        for (const r of mine) counts[r.type] = (counts[r.type] ?? 0) + 1;
        assert.deepEqual(counts, {
            "image-janitor:ami:AmiCleanup": 1,
            "aws:cloudwatch/logGroup:LogGroup": 4,
            "aws:iam/role:Role": 5,
            "aws:iam/rolePolicy:RolePolicy": 6,
            "aws:lambda/function:Function": 3,
            "aws:sfn/stateMachine:StateMachine": 1,
            "aws:scheduler/schedule:Schedule": 1,
            "image-janitor:ecr:SelfEmptyingRepository": 1,
            "awsx:ecr:Repository": 1,
            "pulumi-nodejs:dynamic/image-janitor:RepositoryEmptier": 1,
        });
        for (const r of mine.filter((x) => !x.type.startsWith("image-janitor:"))) {
            const expected = r.name.startsWith("ami-cleanup-us-east-1")
                ? "image-janitor:ami:AmiCleanup"
                : "image-janitor:ecr:SelfEmptyingRepository";
            assert.equal(parentTypeOf(r.type, r.name), expected, `${r.type} ${r.name}`);
        }
    });

    it("ships three bundled Node.js 22 functions with JSON logs into their own log groups", () => {
        const fns = ofProgram("aws:lambda/function:Function");
        assert.deepEqual(
            fns.map((f) => [
                f.name,
                f.inputs.runtime,
                f.inputs.handler,
                f.inputs.architectures,
                f.inputs.timeout,
            ]),
            [
                ["ami-cleanup-us-east-1-list", "nodejs22.x", "index.handler", ["arm64"], 900],
                ["ami-cleanup-us-east-1-deregister", "nodejs22.x", "index.handler", ["arm64"], 900],
                ["ami-cleanup-us-east-1-snapshots", "nodejs22.x", "index.handler", ["arm64"], 900],
            ],
        );
        for (const f of fns) {
            const key = f.name.replace("ami-cleanup-us-east-1-", "");
            assert.deepEqual(f.inputs.loggingConfig, {
                logFormat: "JSON",
                logGroup: `ami-cleanup-us-east-1-${key}-0a1b2c3`,
                applicationLogLevel: "INFO",
                systemLogLevel: "WARN",
            });
            assert.equal(
                f.inputs.role,
                `arn:aws:iam::${ACCOUNT_ID}:role/ami-cleanup-us-east-1-${key}-0a1b2c3`,
            );
        }
    });

    it("keeps every log group for the configured retention", () => {
        const groups = ofProgram("aws:cloudwatch/logGroup:LogGroup");
        assert.deepEqual(
            groups.map((g) => [g.name, g.inputs.retentionInDays, g.inputs.namePrefix]),
            [
                ["ami-cleanup-us-east-1-list", 14, undefined],
                ["ami-cleanup-us-east-1-deregister", 14, undefined],
                ["ami-cleanup-us-east-1-snapshots", 14, undefined],
                ["ami-cleanup-us-east-1-machine", 14, "/aws/vendedlogs/states/ami-cleanup-us-east-1-"],
            ],
        );
    });

    it("gives each function exactly its own EC2 action and its own log group", () => {
        const policy = (name: string) =>
            JSON.parse(
                ofProgram("aws:iam/rolePolicy:RolePolicy").find(
                    (p) => p.name === `ami-cleanup-us-east-1-${name}`,
                )?.inputs.policy as string,
            );
        const logs = (name: string) => ({
            Sid: "WriteOwnLogs",
            Effect: "Allow",
            Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
            Resource: `${LOGS(name)}:*`,
        });
        assert.deepEqual(policy("list"), {
            Version: "2012-10-17",
            Statement: [
                logs("list"),
                {
                    Sid: "DescribeImagesAndTheirUsers",
                    Effect: "Allow",
                    Action: [
                        "ec2:DescribeImages",
                        "ec2:DescribeInstances",
                        "ec2:DescribeLaunchTemplateVersions",
                        "ec2:DescribeFleets",
                        "ec2:DescribeSpotFleetRequests",
                        "autoscaling:DescribeAutoScalingGroups",
                        "autoscaling:DescribeLaunchConfigurations",
                        "ssm:DescribeParameters",
                        "ec2:DescribeSnapshots",
                    ],
                    Resource: "*",
                },
                {
                    Sid: "ReadImageParameters",
                    Effect: "Allow",
                    Action: "ssm:GetParameters",
                    Resource: `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:parameter/*`,
                },
            ],
        });
        assert.deepEqual(policy("deregister"), {
            Version: "2012-10-17",
            Statement: [
                logs("deregister"),
                {
                    Sid: "RecheckImages",
                    Effect: "Allow",
                    Action: ["ec2:DescribeImages", "ec2:DescribeImageAttribute"],
                    Resource: "*",
                },
                {
                    Sid: "DeregisterImages",
                    Effect: "Allow",
                    Action: "ec2:DeregisterImage",
                    Resource: "arn:aws:ec2:us-east-1::image/*",
                },
                {
                    Sid: "DeleteAssociatedSnapshots",
                    Effect: "Allow",
                    Action: "ec2:DeleteSnapshot",
                    Resource: "arn:aws:ec2:us-east-1::snapshot/*",
                },
                {
                    Sid: "MarkForDeletion",
                    Effect: "Allow",
                    Action: "ec2:CreateTags",
                    Resource: ["arn:aws:ec2:us-east-1::image/*", "arn:aws:ec2:us-east-1::snapshot/*"],
                    Condition: {
                        "ForAllValues:StringEquals": {
                            "aws:TagKeys": ["image-janitor:deleting", "image-janitor:image-id"],
                        },
                    },
                },
            ],
        });
        assert.deepEqual(policy("snapshots"), {
            Version: "2012-10-17",
            Statement: [
                logs("snapshots"),
                {
                    Sid: "DeleteSnapshots",
                    Effect: "Allow",
                    Action: "ec2:DeleteSnapshot",
                    Resource: "arn:aws:ec2:us-east-1::snapshot/*",
                },
                {
                    Sid: "MarkOrphansForDeletion",
                    Effect: "Allow",
                    Action: "ec2:CreateTags",
                    Resource: "arn:aws:ec2:us-east-1::snapshot/*",
                    Condition: {
                        "ForAllValues:StringEquals": {
                            "aws:TagKeys": ["image-janitor:deleting", "image-janitor:image-id"],
                        },
                    },
                },
            ],
        });
        const machine = policy("machine");
        assert.deepEqual(machine.Statement[0], {
            Sid: "InvokeCleanupFunctions",
            Effect: "Allow",
            Action: "lambda:InvokeFunction",
            Resource: [FN("list"), FN("deregister"), FN("snapshots")],
        });
        const MACHINE = `arn:aws:states:${REGION}:${ACCOUNT_ID}:stateMachine:ami-cleanup-us-east-1-machine-0a1b2c3`;
        assert.deepEqual(policy("machine-self"), {
            Version: "2012-10-17",
            Statement: [
                { Sid: "CheckOverlap", Effect: "Allow", Action: "states:ListExecutions", Resource: MACHINE },
                { Sid: "ContinueAsNew", Effect: "Allow", Action: "states:StartExecution", Resource: MACHINE },
            ],
        });
        assert.deepEqual(policy("schedule"), {
            Version: "2012-10-17",
            Statement: [
                {
                    Sid: "StartCleanup",
                    Effect: "Allow",
                    Action: "states:StartExecution",
                    Resource: `arn:aws:states:${REGION}:${ACCOUNT_ID}:stateMachine:ami-cleanup-us-east-1-machine-0a1b2c3`,
                },
            ],
        });
    });

    it("grants no mutating action on `*`: only Describe and vended-log actions, which AWS offers on `*` alone", () => {
        const readOnlyOrStarOnly =
            /^(ec2:Describe\w+|autoscaling:Describe\w+|ssm:DescribeParameters|logs:(Create|Get|Update|Delete|List)LogDeliver(y|ies)|logs:PutResourcePolicy|logs:DescribeResourcePolicies|logs:DescribeLogGroups)$/;
        for (const p of ofProgram("aws:iam/rolePolicy:RolePolicy")) {
            for (const st of JSON.parse(p.inputs.policy as string).Statement) {
                if (!([] as unknown[]).concat(st.Resource).includes("*")) continue;
                for (const action of ([] as string[]).concat(st.Action))
                    assert.match(action, readOnlyOrStarOnly, `${p.name}: ${action} on *`);
            }
        }
    });

    it("trusts only the service each role is for, guarded by the account", () => {
        const trust = (name: string) =>
            JSON.parse(
                ofProgram("aws:iam/role:Role").find((r) => r.name === `ami-cleanup-us-east-1-${name}`)?.inputs
                    .assumeRolePolicy as string,
            ).Statement[0];
        assert.deepEqual(trust("list").Principal, { Service: "lambda.amazonaws.com" });
        assert.deepEqual(trust("machine"), {
            Effect: "Allow",
            Action: "sts:AssumeRole",
            Principal: { Service: "states.amazonaws.com" },
            Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT_ID } },
        });
        assert.deepEqual(trust("schedule").Principal, { Service: "scheduler.amazonaws.com" });
    });

    it("declares a STANDARD state machine that logs everything, with the configured definition", () => {
        const [machine] = ofProgram("aws:sfn/stateMachine:StateMachine");
        assert.equal(machine.inputs.type, "STANDARD");
        assert.deepEqual(machine.inputs.loggingConfiguration, {
            level: "ALL",
            includeExecutionData: true,
            logDestination: `arn:aws:logs:${REGION}:${ACCOUNT_ID}:log-group:/aws/vendedlogs/states/ami-cleanup-us-east-1-0a1b2c3d:*`,
        });
        const definition = JSON.parse(machine.inputs.definition as string);
        assert.equal(definition.StartAt, "StartState");
        // The stack's config (tests/setup.ts), parsed, with every other setting at its default.
        const settings = {
            validHours: 24,
            dryRun: false,
            maxConcurrency: 5,
            callsPerBatch: 4,
            keepTagKey: "image-janitor:keep",
            keepLatest: 0,
            groupByTag: "",
            protectInUse: true,
            protectUnattachedLaunchConfigurations: true,
            keepPublic: true,
            keepShared: true,
            keepLaunchedWithinDays: 0,
            sweepOrphanSnapshots: false,
            disableForHours: 0,
            recycleBinDays: 0,
        };
        assert.deepEqual(definition.States.ListExpiredImagesState.Parameters, {
            settings,
            "after.$": "$.continuation.cursor",
            "run.$": "$.continuation.firstExecution",
        });
        assert.equal(definition.States.ListExpiredImagesState.Resource, FN("list"));
        const { map } = pageStates(definition);
        assert.equal(map.MaxConcurrency, 5);
        assert.deepEqual(map.ItemSelector, {
            "id.$": "$$.Map.Item.Value.id",
            "images.$": "$$.Map.Item.Value.images",
            "snapshots.$": "$$.Map.Item.Value.snapshots",
            settings,
        });
        assert.equal(map.ItemProcessor.States.DeleteImageState.Resource, FN("deregister"));
        assert.equal(map.ItemProcessor.States.DeleteSnapshotState.Resource, FN("snapshots"));
    });

    it("starts the state machine on the configured schedule", () => {
        const [schedule] = ofProgram("aws:scheduler/schedule:Schedule");
        assert.equal(schedule.inputs.scheduleExpression, "rate(2 hours)");
        assert.deepEqual(schedule.inputs.flexibleTimeWindow, { mode: "OFF" });
        assert.deepEqual(schedule.inputs.target, {
            arn: `arn:aws:states:${REGION}:${ACCOUNT_ID}:stateMachine:ami-cleanup-us-east-1-machine-0a1b2c3`,
            roleArn: `arn:aws:iam::${ACCOUNT_ID}:role/ami-cleanup-us-east-1-schedule-0a1b2c3`,
            input: "{}",
        });
    });

    it("exports the state machine, function, schedule and log group names, keyed by region", async () => {
        assert.deepEqual(await outputValue(program.stateMachineArns), {
            "us-east-1": `arn:aws:states:${REGION}:${ACCOUNT_ID}:stateMachine:ami-cleanup-us-east-1-machine-0a1b2c3`,
        });
        assert.deepEqual(await outputValue(program.functionNames), {
            "us-east-1": {
                list: "ami-cleanup-us-east-1-list-0a1b2c3",
                deregister: "ami-cleanup-us-east-1-deregister-0a1b2c3",
                snapshots: "ami-cleanup-us-east-1-snapshots-0a1b2c3",
            },
        });
        assert.deepEqual(await outputValue(program.scheduleNames), {
            "us-east-1": "ami-cleanup-us-east-1-schedule-0a1b2c3",
        });
        assert.deepEqual(await outputValue(program.logGroupNames), {
            "us-east-1": {
                list: "ami-cleanup-us-east-1-list-0a1b2c3",
                deregister: "ami-cleanup-us-east-1-deregister-0a1b2c3",
                snapshots: "ami-cleanup-us-east-1-snapshots-0a1b2c3",
                stateMachine: "/aws/vendedlogs/states/ami-cleanup-us-east-1-0a1b2c3d",
            },
        });
        assert.equal(await outputValue(program.repositoryName), "image-janitor-test");
        assert.equal(
            await outputValue(program.repositoryUrl),
            `${ACCOUNT_ID}.dkr.ecr.${REGION}.amazonaws.com/image-janitor-test`,
        );
        assert.equal(program.ecrEmptyMode, "dynamic");
    });

    it("declares the repository with scanning, lifecycle rules and forceDelete off", () => {
        const [repo] = ofProgram("awsx:ecr:Repository");
        assert.deepEqual(repo.inputs, {
            name: "image-janitor-test",
            forceDelete: false,
            imageScanningConfiguration: { scanOnPush: true },
            imageTagMutability: "MUTABLE",
            lifecyclePolicy: {
                rules: [
                    {
                        tagStatus: "untagged",
                        maximumAgeLimit: 14,
                        description: "Expire untagged images after 14 days",
                    },
                    { tagStatus: "any", maximumNumberOfImages: 20, description: "Keep the newest 20 images" },
                ],
            },
        });
    });

    it("empties the repository through a dynamic resource fed by the repository's outputs, so it is deleted first", () => {
        const type = "pulumi-nodejs:dynamic/image-janitor:RepositoryEmptier";
        const emptier = ofProgram(type).find((r) => r.name === "images-emptier");
        assert.ok(emptier);
        assert.deepEqual(
            { ...emptier.inputs, __provider: typeof emptier.inputs.__provider },
            {
                repositoryName: "image-janitor-test",
                registryId: ACCOUNT_ID,
                region: REGION,
                __provider: "string",
            },
        );
        const repoUrn = urnOf("awsx:ecr:Repository", "images", "image-janitor:ecr:SelfEmptyingRepository");
        const deps = dependenciesOf(type, "images-emptier");
        assert.ok(deps.byProperty.repositoryName.includes(repoUrn), JSON.stringify(deps));
        assert.ok(deps.byProperty.registryId.includes(repoUrn));
        assert.ok(deps.all.includes(repoUrn));
    });
});
