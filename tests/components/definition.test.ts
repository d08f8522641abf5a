// The ASL builder, without mocks: exact shape, retries, compact items, and validity per asl-validator.
import * as assert from "node:assert/strict";
import { buildDefinition, LAMBDA_TRANSIENT_ERRORS, PARTIAL_FAILURE_ERROR } from "../../components/definition";

const aslValidator: (def: unknown) => {
    isValid: boolean;
    errorsText: (sep?: string) => string;
} = require("asl-validator");

const ARNS = {
    listFunctionArn: "arn:aws:lambda:eu-west-1:111122223333:function:list",
    deregisterFunctionArn: "arn:aws:lambda:eu-west-1:111122223333:function:deregister",
    deleteSnapshotsFunctionArn: "arn:aws:lambda:eu-west-1:111122223333:function:snapshots",
};
const build = (over: Partial<Parameters<typeof buildDefinition>[0]> = {}) =>
    buildDefinition({ ...ARNS, validHours: 72, dryRun: false, maxConcurrency: 8, ...over });

describe("state machine definition builder", () => {
    it("is valid Amazon States Language", () => {
        for (const dryRun of [false, true]) {
            const result = aslValidator(build({ dryRun }));
            assert.equal(result.isValid, true, result.errorsText("\n"));
        }
    });

    it("keeps the original shape: list, then a Map that deregisters then deletes snapshots", () => {
        const d = build();
        assert.equal(d.StartAt, "ListExpiredImagesState");
        assert.deepEqual(Object.keys(d.States), [
            "ListExpiredImagesState",
            "DeleteImageMapState",
            "SummarizeState",
            "DetectFailuresState",
            "CheckFailuresState",
            "ReportFailuresState",
            "PartialFailureState",
            "DoneState",
        ]);
        const list = d.States.ListExpiredImagesState;
        assert.deepEqual(
            [list.Type, list.Resource, list.Parameters, list.ResultPath, list.Next],
            [
                "Task",
                ARNS.listFunctionArn,
                { valid_hours: 72, keep_tag_key: "image-janitor:keep", keep_latest: 0, protect_in_use: true },
                "$.listed",
                "DeleteImageMapState",
            ],
        );
        const map = d.States.DeleteImageMapState as {
            ItemProcessor: { StartAt: string; States: Record<string, Record<string, unknown>> };
        } & Record<string, unknown>;
        assert.deepEqual([map.Type, map.ItemsPath, map.MaxConcurrency], ["Map", "$.listed.images", 8]);
        assert.deepEqual(map.ItemSelector, { "image.$": "$$.Map.Item.Value", dryRun: false });
        assert.equal(map.ItemProcessor.StartAt, "DeleteImageState");
        const { DeleteImageState: deregister, DeleteSnapshotState: snapshots } = map.ItemProcessor.States;
        assert.deepEqual(
            [deregister.Resource, deregister.Next],
            [ARNS.deregisterFunctionArn, "DeleteSnapshotState"],
        );
        assert.deepEqual(
            [snapshots.Resource, snapshots.Next],
            [ARNS.deleteSnapshotsFunctionArn, "ImageDoneState"],
        );
    });

    it("retries Lambda's transient errors with backoff on every task", () => {
        const d = build();
        const map = d.States.DeleteImageMapState as {
            ItemProcessor: { States: Record<string, { Retry: unknown[] }> };
        };
        const tasks = [
            d.States.ListExpiredImagesState,
            map.ItemProcessor.States.DeleteImageState,
            map.ItemProcessor.States.DeleteSnapshotState,
        ];
        for (const task of tasks) {
            assert.deepEqual((task.Retry as unknown[])[0], {
                ErrorEquals: LAMBDA_TRANSIENT_ERRORS,
                IntervalSeconds: 1,
                MaxAttempts: 6,
                BackoffRate: 2,
                MaxDelaySeconds: 30,
                JitterStrategy: "FULL",
            });
        }
        assert.deepEqual(LAMBDA_TRANSIENT_ERRORS, [
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
        ]);
    });

    it("catches each AMI's failure inside its iteration, so the others go on", () => {
        const map = build().States.DeleteImageMapState as {
            ItemProcessor: { States: Record<string, Record<string, unknown>> };
        };
        for (const name of ["DeleteImageState", "DeleteSnapshotState"]) {
            assert.deepEqual(map.ItemProcessor.States[name].Catch, [
                { ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "ImageFailedState" },
            ]);
        }
        assert.deepEqual(map.ItemProcessor.States.ImageFailedState.Parameters, {
            "imageId.$": "$.image.imageId",
            status: "failed",
            "error.$": "$.error.Error",
            "cause.$": "$.error.Cause",
        });
    });

    it("ends a run with any failed AMI as a failure whose cause is the summary", () => {
        const d = build();
        assert.deepEqual(d.States.CheckFailuresState, {
            Type: "Choice",
            Choices: [
                {
                    Variable: "$.scan.text",
                    StringMatches: '*"status":"failed"*',
                    Next: "ReportFailuresState",
                },
            ],
            Default: "DoneState",
        });
        assert.deepEqual(d.States.PartialFailureState, {
            Type: "Fail",
            Error: PARTIAL_FAILURE_ERROR,
            CausePath: "$.cause",
        });
    });

    it("passes the dry-run flag to every iteration and labels the outcome", () => {
        const d = build({ dryRun: true });
        const map = d.States.DeleteImageMapState as {
            ItemSelector: unknown;
            ItemProcessor: { States: Record<string, { Parameters: { status: string } }> };
        };
        assert.deepEqual(map.ItemSelector, { "image.$": "$$.Map.Item.Value", dryRun: true });
        assert.equal(map.ItemProcessor.States.ImageDoneState.Parameters.status, "would-delete");
        assert.match(d.Comment, /dry run/);
    });

    it("passes every guardrail to the list task", () => {
        const d = build({ keepTagKey: "retain", keepLatest: 3, groupByTag: "app", protectInUse: false });
        assert.deepEqual(d.States.ListExpiredImagesState.Parameters, {
            valid_hours: 72,
            keep_tag_key: "retain",
            keep_latest: 3,
            protect_in_use: false,
            group_by_tag: "app",
        });
    });

    it("rejects options that cannot run, naming the option and the value", () => {
        assert.throws(() => build({ validHours: 0 }), {
            message: "validHours must be a whole number 1 or more (got 0)",
        });
        assert.throws(() => build({ maxConcurrency: 41 }), {
            message: "maxConcurrency must be a whole number from 1 to 40 (got 41)",
        });
    });
});
