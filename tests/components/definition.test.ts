// The ASL builder, without mocks: exact shape, retries, compact items, and validity per asl-validator.
import * as assert from "node:assert/strict";
import { buildDefinition, LAMBDA_TRANSIENT_ERRORS } from "../../components/definition";
import { type CleanupSettings, settingsWith } from "../../functions/core/ami/settings";
import { pageStates } from "../helpers";

const aslValidator: (def: unknown) => {
    isValid: boolean;
    errorsText: (sep?: string) => string;
} = require("asl-validator");

const ARNS = {
    list: "arn:aws:lambda:eu-west-1:111122223333:function:list",
    deregister: "arn:aws:lambda:eu-west-1:111122223333:function:deregister",
    snapshots: "arn:aws:lambda:eu-west-1:111122223333:function:snapshots",
};
const LAMBDA_RETRY = {
    ErrorEquals: LAMBDA_TRANSIENT_ERRORS,
    IntervalSeconds: 1,
    MaxAttempts: 6,
    BackoffRate: 2,
    MaxDelaySeconds: 30,
    JitterStrategy: "FULL",
};
const settingsOf = (over: Partial<CleanupSettings> = {}) =>
    settingsWith({ validHours: 72, maxConcurrency: 8, ...over });
const build = (over: Partial<CleanupSettings> = {}) =>
    buildDefinition({ functionArns: ARNS, settings: settingsOf(over) });

describe("state machine definition builder", () => {
    it("is valid Amazon States Language", () => {
        for (const dryRun of [false, true]) {
            const result = aslValidator(build({ dryRun }));
            assert.equal(result.isValid, true, result.errorsText("\n"));
        }
    });

    it("keeps the original shape: list, then a Map that deregisters then deletes snapshots", () => {
        const d = build();
        assert.equal(d.StartAt, "StartState");
        assert.deepEqual(Object.keys(d.States), [
            "StartState",
            "FindRunningExecutionsState",
            "CheckOverlapState",
            "OverlapSkippedState",
            "FirstPageState",
            "ListExpiredImagesState",
            "DeletePageState",
            "SummarizeState",
            "CheckMorePagesState",
            "ContinueAsNewState",
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
                ARNS.list,
                {
                    settings: settingsOf(),
                    "after.$": "$.continuation.cursor",
                    "run.$": "$.continuation.firstExecution",
                },
                "$.listed",
                "DeletePageState",
            ],
        );
        const { parallel, map } = pageStates(d);
        assert.deepEqual(
            [parallel.Type, parallel.Branches.length, parallel.OutputPath, parallel.Next],
            ["Parallel", 2, "$[0]", "SummarizeState"],
        );
        assert.deepEqual(Object.keys(parallel.Branches[0].States), ["DeleteImageMapState"]);
        assert.deepEqual(
            [map.Type, map.ItemsPath, map.MaxConcurrency, map.ResultPath, map.End],
            ["Map", "$.listed.batches", 8, "$.listed.batches", true],
        );
        assert.deepEqual(map.ItemSelector, {
            "id.$": "$$.Map.Item.Value.id",
            "images.$": "$$.Map.Item.Value.images",
            "snapshots.$": "$$.Map.Item.Value.snapshots",
            settings: settingsOf(),
        });
        assert.equal(map.ItemProcessor.StartAt, "DeleteImageState");
        const { DeleteImageState: deregister, DeleteSnapshotState: snapshots } = map.ItemProcessor.States;
        assert.deepEqual(
            [deregister.Resource, deregister.ResultPath, deregister.Next],
            [ARNS.deregister, "$.deregistered", "DeleteSnapshotState"],
        );
        assert.deepEqual(
            [snapshots.Resource, snapshots.Parameters, snapshots.ResultSelector, snapshots.Next],
            [
                ARNS.snapshots,
                { "deregistered.$": "$.deregistered", "snapshots.$": "$.snapshots", settings: settingsOf() },
                { "summary.$": "$.summary" },
                "BatchDoneState",
            ],
        );
        assert.deepEqual(map.ItemProcessor.States.BatchDoneState, {
            Type: "Pass",
            OutputPath: "$.snapshots.summary",
            End: true,
        });
    });

    it("lists the next page's AMIs beside the deletions when the page asks, and never fails the page for it", () => {
        const { refresh } = pageStates(build());
        assert.deepEqual(refresh, {
            Comment: "the next page's listing, made while this page deletes",
            StartAt: "CheckRefreshDueState",
            States: {
                CheckRefreshDueState: {
                    Type: "Choice",
                    Choices: [
                        {
                            And: [
                                { Variable: "$.listed.refreshDue", IsPresent: true },
                                { Variable: "$.listed.refreshDue", BooleanEquals: true },
                            ],
                            Next: "RefreshListingState",
                        },
                    ],
                    Default: "NoRefreshState",
                },
                RefreshListingState: {
                    Type: "Task",
                    Resource: ARNS.list,
                    Parameters: {
                        settings: settingsOf(),
                        refresh: true,
                        "run.$": "$.continuation.firstExecution",
                        "after.$": "$.listed.cursor",
                    },
                    TimeoutSeconds: 300,
                    Retry: [{ ...LAMBDA_RETRY, MaxAttempts: 2 }],
                    Catch: [
                        { ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "RefreshFailedState" },
                    ],
                    End: true,
                },
                RefreshFailedState: {
                    Type: "Pass",
                    Parameters: { "refreshFailed.$": "$.error.Error" },
                    End: true,
                },
                NoRefreshState: { Type: "Pass", Result: {}, End: true },
            },
        });
    });

    it("skips a scheduled run's work while another execution of the same machine is running", () => {
        const d = build();
        assert.deepEqual(d.States.StartState, {
            Type: "Choice",
            Choices: [{ Variable: "$.continuation", IsPresent: true, Next: "ListExpiredImagesState" }],
            Default: "FindRunningExecutionsState",
        });
        const find = d.States.FindRunningExecutionsState;
        assert.deepEqual(
            [find.Resource, find.Parameters, find.ResultSelector, find.ResultPath],
            [
                "arn:aws:states:::aws-sdk:sfn:listExecutions",
                { "StateMachineArn.$": "$$.StateMachine.Id", StatusFilter: "RUNNING", MaxResults: 2 },
                { "count.$": "States.ArrayLength($.Executions)" },
                "$.running",
            ],
        );
        assert.deepEqual(d.States.CheckOverlapState, {
            Type: "Choice",
            Choices: [{ Variable: "$.running.count", NumericGreaterThan: 1, Next: "OverlapSkippedState" }],
            Default: "FirstPageState",
        });
        assert.equal(
            d.TimeoutSeconds,
            6 * 3600,
            "a stuck run cannot block the schedule for more than 6 hours",
        );
    });

    it("hands the next page to a fresh execution with the cursor, before reporting its own page", () => {
        const d = build();
        assert.deepEqual(d.States.CheckMorePagesState, {
            Type: "Choice",
            Choices: [{ Variable: "$.summary.more", BooleanEquals: true, Next: "ContinueAsNewState" }],
            Default: "DetectFailuresState",
        });
        const next = d.States.ContinueAsNewState;
        assert.deepEqual(
            [next.Resource, next.Parameters, next.ResultPath, next.Next],
            [
                "arn:aws:states:::states:startExecution",
                {
                    "StateMachineArn.$": "$$.StateMachine.Id",
                    Input: {
                        continuation: {
                            "cursor.$": "$.summary.cursor",
                            "page.$": "States.MathAdd($.continuation.page, 1)",
                            "firstExecution.$": "$.continuation.firstExecution",
                        },
                        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id",
                    },
                },
                "$.summary.next",
                "DetectFailuresState",
            ],
        );
    });

    it("retries Lambda's transient errors with backoff on every task", () => {
        const d = build();
        const { map, refresh } = pageStates(d);
        const tasks = [
            d.States.ListExpiredImagesState,
            map.ItemProcessor.States.DeleteImageState,
            map.ItemProcessor.States.DeleteSnapshotState,
        ];
        for (const task of tasks) assert.deepEqual((task.Retry as unknown[])[0], LAMBDA_RETRY);
        // The refresh is retried once only: the page waits for it.
        assert.deepEqual(refresh.States.RefreshListingState.Retry, [{ ...LAMBDA_RETRY, MaxAttempts: 2 }]);
        assert.deepEqual(LAMBDA_TRANSIENT_ERRORS, [
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
        ]);
    });

    it("catches a batch's failure inside its iteration, so the other batches go on", () => {
        const { map } = pageStates(build());
        for (const name of ["DeleteImageState", "DeleteSnapshotState"]) {
            assert.deepEqual(map.ItemProcessor.States[name].Catch, [
                { ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "BatchFailedState" },
            ]);
        }
        assert.deepEqual(map.ItemProcessor.States.BatchFailedState.Parameters, {
            status: "failed",
            "images.$": "States.ArrayLength($.images)",
            "id.$": "$.id",
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
            Error: "ImageJanitor.PartialFailure",
            CausePath: "$.cause",
        });
    });

    it("passes the whole settings object, in its own camelCase names, to every task", () => {
        const settings = settingsOf({
            dryRun: true,
            callsPerBatch: 2,
            keepTagKey: "retain",
            keepLatest: 3,
            groupByTag: "app",
            protectInUse: false,
        });
        const d = buildDefinition({ functionArns: ARNS, settings });
        const { map, refresh } = pageStates(d);
        assert.deepEqual(refresh.States.RefreshListingState.Parameters, {
            settings,
            refresh: true,
            "run.$": "$.continuation.firstExecution",
            "after.$": "$.listed.cursor",
        });
        assert.deepEqual(d.States.ListExpiredImagesState.Parameters, {
            settings,
            "after.$": "$.continuation.cursor",
            "run.$": "$.continuation.firstExecution",
        });
        assert.deepEqual(map.ItemSelector, {
            "id.$": "$$.Map.Item.Value.id",
            "images.$": "$$.Map.Item.Value.images",
            "snapshots.$": "$$.Map.Item.Value.snapshots",
            settings,
        });
        assert.deepEqual(map.ItemProcessor.States.DeleteSnapshotState.Parameters, {
            "deregistered.$": "$.deregistered",
            "snapshots.$": "$.snapshots",
            settings,
        });
        assert.deepEqual(Object.keys(settings), [
            "validHours",
            "dryRun",
            "maxConcurrency",
            "callsPerBatch",
            "keepTagKey",
            "keepLatest",
            "groupByTag",
            "protectInUse",
            "protectUnattachedLaunchConfigurations",
            "keepPublic",
            "keepShared",
            "keepLaunchedWithinDays",
            "sweepOrphanSnapshots",
            "disableForHours",
            "recycleBinDays",
        ]);
        assert.match(d.Comment, /dry run/);
    });
});
