// Pure builder for the cleanup state machine's Amazon States Language: function ARNs and options in, plain object out.
// The deployed state machine and the local runner both use it, so they cannot drift.

import type { CleanupSettings } from "../functions/core/ami/settings";
import { ErrorNames } from "../functions/core/shared/errors";

export const StateNames = {
    start: "StartState",
    findRunning: "FindRunningExecutionsState",
    overlap: "CheckOverlapState",
    overlapSkipped: "OverlapSkippedState",
    firstPage: "FirstPageState",
    list: "ListExpiredImagesState",
    page: "DeletePageState",
    map: "DeleteImageMapState",
    refreshDue: "CheckRefreshDueState",
    refresh: "RefreshListingState",
    refreshSkipped: "NoRefreshState",
    refreshFailed: "RefreshFailedState",
    deregister: "DeleteImageState",
    snapshots: "DeleteSnapshotState",
    batchDone: "BatchDoneState",
    batchFailed: "BatchFailedState",
    summarize: "SummarizeState",
    morePages: "CheckMorePagesState",
    continueAsNew: "ContinueAsNewState",
    detectFailures: "DetectFailuresState",
    checkFailures: "CheckFailuresState",
    reportFailures: "ReportFailuresState",
    partialFailure: "PartialFailureState",
    done: "DoneState",
} as const;

/** Task resources of Step Functions' own API: the overlap check and the hand-over to a fresh execution. */
export const SFN_LIST_EXECUTIONS = "arn:aws:states:::aws-sdk:sfn:listExecutions";
export const SFN_START_EXECUTION = "arn:aws:states:::states:startExecution";

/** A stuck execution must not block the schedule forever: the overlap check waits at most this long. */
export const EXECUTION_TIMEOUT_SECONDS = 6 * 3600;

/** Listing 50,000 AMIs takes about 2 minutes; a page of 2,000 about 7. */
export const REFRESH_TIMEOUT_SECONDS = 300;

/** The three Lambda functions the definition's tasks invoke. */
export interface FunctionArns {
    list: string;
    deregister: string;
    snapshots: string;
}

export interface DefinitionOptions {
    functionArns: FunctionArns;
    /** Parsed settings: every task receives them whole, as `settings`. */
    settings: CleanupSettings;
}

export type AslState = Record<string, unknown>;
export interface AslDefinition {
    Comment: string;
    StartAt: string;
    TimeoutSeconds?: number;
    States: Record<string, AslState>;
}

/** Transient Lambda service errors AWS recommends retrying on every Lambda task. */
export const LAMBDA_TRANSIENT_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
];

const retryLambda = {
    ErrorEquals: LAMBDA_TRANSIENT_ERRORS,
    IntervalSeconds: 1,
    MaxAttempts: 6,
    BackoffRate: 2,
    MaxDelaySeconds: 30,
    JitterStrategy: "FULL",
};

// AWS still throttling or failing after the SDK's and the pool's retries, or a batch out of time: back off
// longer, with jitter, so the buckets refill and a passing fault passes.
const retryTransient = {
    ErrorEquals: [ErrorNames.transient, ErrorNames.outOfTime],
    IntervalSeconds: 2,
    MaxAttempts: 8,
    BackoffRate: 2,
    MaxDelaySeconds: 60,
    JitterStrategy: "FULL",
};

// A just-deregistered AMI can hold its snapshots for a few seconds.
const retrySnapshotInUse = {
    ErrorEquals: [ErrorNames.snapshotStillInUse],
    IntervalSeconds: 5,
    MaxAttempts: 5,
    BackoffRate: 2,
    MaxDelaySeconds: 60,
    JitterStrategy: "FULL",
};

// Step Functions' own API throttles and fails transiently too.
const retrySfn = {
    ErrorEquals: ["Sfn.SfnException", "Sfn.ThrottlingException", "States.TaskFailed"],
    IntervalSeconds: 1,
    MaxAttempts: 6,
    BackoffRate: 2,
    MaxDelaySeconds: 30,
    JitterStrategy: "FULL",
};

const catchAll = { ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: StateNames.batchFailed };

/**
 * One execution works one page: up to ~2,000 expired AMIs after a cursor, in Map batches of 100. When more
 * remain it starts a fresh execution for the next page before reporting its own, so no execution's history
 * or payload grows with the account. A scheduled start first checks that no earlier run is still going.
 */
export function buildDefinition({ functionArns, settings }: DefinitionOptions): AslDefinition {
    return {
        Comment: `image-janitor: deregister AMIs older than ${settings.validHours} hours and delete their snapshots${settings.dryRun ? " (dry run)" : ""}`,
        StartAt: StateNames.start,
        TimeoutSeconds: EXECUTION_TIMEOUT_SECONDS,
        States: {
            // A continuation carries its cursor and skips the overlap check: its predecessor may still be finishing.
            [StateNames.start]: {
                Type: "Choice",
                Choices: [{ Variable: "$.continuation", IsPresent: true, Next: StateNames.list }],
                Default: StateNames.findRunning,
            },
            [StateNames.findRunning]: {
                Type: "Task",
                Resource: SFN_LIST_EXECUTIONS,
                Parameters: {
                    "StateMachineArn.$": "$$.StateMachine.Id",
                    StatusFilter: "RUNNING",
                    MaxResults: 2,
                },
                ResultSelector: { "count.$": "States.ArrayLength($.Executions)" },
                ResultPath: "$.running",
                Retry: [retrySfn],
                Next: StateNames.overlap,
            },
            // This execution is one of the running ones; any other means the previous run is still working.
            [StateNames.overlap]: {
                Type: "Choice",
                Choices: [
                    { Variable: "$.running.count", NumericGreaterThan: 1, Next: StateNames.overlapSkipped },
                ],
                Default: StateNames.firstPage,
            },
            [StateNames.overlapSkipped]: {
                Type: "Pass",
                Parameters: { skipped: "an earlier run of this state machine is still running" },
                End: true,
            },
            [StateNames.firstPage]: {
                Type: "Pass",
                Parameters: { cursor: "", page: 1, "firstExecution.$": "$$.Execution.Id" },
                ResultPath: "$.continuation",
                Next: StateNames.list,
            },
            [StateNames.list]: {
                Type: "Task",
                Resource: functionArns.list,
                Parameters: {
                    settings,
                    "after.$": "$.continuation.cursor",
                    "run.$": "$.continuation.firstExecution",
                },
                ResultPath: "$.listed",
                Retry: [retryLambda, retryTransient],
                Next: StateNames.page,
            },
            // The page deletes in one branch; in the other, the next page's listing is made meanwhile when due.
            [StateNames.page]: {
                Type: "Parallel",
                Branches: [
                    {
                        StartAt: StateNames.map,
                        States: { [StateNames.map]: mapState(functionArns, settings) },
                    },
                    refreshBranch(functionArns, settings),
                ],
                // The deleting branch's output: the state with the batches replaced by their results.
                OutputPath: "$[0]",
                Next: StateNames.summarize,
            },
            // The page's summary is the execution's output; on any failure the same summary is the failure's cause.
            [StateNames.summarize]: {
                Type: "Pass",
                Parameters: {
                    "continuation.$": "$.continuation",
                    summary: {
                        "page.$": "$.continuation.page",
                        validHours: settings.validHours,
                        dryRun: settings.dryRun,
                        disableForHours: settings.disableForHours,
                        recycleBinDays: settings.recycleBinDays,
                        "expired.$": "$.listed.expired",
                        "inPage.$": "$.listed.count",
                        "remaining.$": "$.listed.remaining",
                        "cursor.$": "$.listed.cursor",
                        "more.$": "$.listed.more",
                        "skippedCount.$": "$.listed.skippedCount",
                        "skipped.$": "$.listed.skipped",
                        "estimatedGiB.$": "$.listed.estimatedGiB",
                        "batches.$": "$.listed.batches",
                    },
                },
                Next: StateNames.morePages,
            },
            [StateNames.morePages]: {
                Type: "Choice",
                Choices: [
                    { Variable: "$.summary.more", BooleanEquals: true, Next: StateNames.continueAsNew },
                ],
                Default: StateNames.detectFailures,
            },
            // "Continue as new": the next page runs in a fresh execution with a fresh history.
            [StateNames.continueAsNew]: {
                Type: "Task",
                Resource: SFN_START_EXECUTION,
                Parameters: {
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
                ResultSelector: { "executionArn.$": "$.ExecutionArn" },
                ResultPath: "$.summary.next",
                Retry: [retrySfn],
                Next: StateNames.detectFailures,
            },
            // JSONPath filters differ between Step Functions and local runners on empty matches, so failures
            // are found by scanning the compact results as text: only a failed batch holds this status.
            [StateNames.detectFailures]: {
                Type: "Pass",
                Parameters: { "text.$": "States.JsonToString($.summary.batches)" },
                ResultPath: "$.scan",
                Next: StateNames.checkFailures,
            },
            [StateNames.checkFailures]: {
                Type: "Choice",
                Choices: [
                    {
                        Variable: "$.scan.text",
                        StringMatches: '*"status":"failed"*',
                        Next: StateNames.reportFailures,
                    },
                ],
                Default: StateNames.done,
            },
            [StateNames.reportFailures]: {
                Type: "Pass",
                Parameters: { "cause.$": "States.JsonToString($.summary)" },
                Next: StateNames.partialFailure,
            },
            [StateNames.partialFailure]: {
                Type: "Fail",
                Error: ErrorNames.partialFailure,
                CausePath: "$.cause",
            },
            [StateNames.done]: { Type: "Succeed", OutputPath: "$.summary" },
        },
    };
}

/** The page's batches, side by side: each deregisters its AMIs, then deletes what is left of their snapshots. */
function mapState(functionArns: FunctionArns, settings: CleanupSettings): AslState {
    return {
        Type: "Map",
        ItemsPath: "$.listed.batches",
        MaxConcurrency: settings.maxConcurrency,
        ItemSelector: {
            "id.$": "$$.Map.Item.Value.id",
            "images.$": "$$.Map.Item.Value.images",
            "snapshots.$": "$$.Map.Item.Value.snapshots",
            settings,
        },
        ItemProcessor: {
            ProcessorConfig: { Mode: "INLINE" },
            StartAt: StateNames.deregister,
            States: {
                [StateNames.deregister]: {
                    Type: "Task",
                    Resource: functionArns.deregister,
                    ResultPath: "$.deregistered",
                    Retry: [retryLambda, retryTransient],
                    Catch: [catchAll],
                    Next: StateNames.snapshots,
                },
                [StateNames.snapshots]: {
                    Type: "Task",
                    Resource: functionArns.snapshots,
                    Parameters: {
                        "deregistered.$": "$.deregistered",
                        "snapshots.$": "$.snapshots",
                        settings,
                    },
                    ResultSelector: { "summary.$": "$.summary" },
                    ResultPath: "$.snapshots",
                    Retry: [retryLambda, retryTransient, retrySnapshotInUse],
                    Catch: [catchAll],
                    Next: StateNames.batchDone,
                },
                // Each iteration returns counts and a few examples, so the Map's result stays small.
                [StateNames.batchDone]: {
                    Type: "Pass",
                    OutputPath: "$.snapshots.summary",
                    End: true,
                },
                [StateNames.batchFailed]: {
                    Type: "Pass",
                    Parameters: {
                        status: "failed",
                        "images.$": "States.ArrayLength($.images)",
                        "id.$": "$.id",
                        "error.$": "$.error.Error",
                        "cause.$": "$.error.Cause",
                    },
                    End: true,
                },
            },
        },
        // The batches are done with: their results take their place.
        ResultPath: "$.listed.batches",
        End: true,
    };
}

/**
 * Lists the account again for the next page when the list task says the page's listing nears its age limit.
 * A failed refresh never stops the deletions: the next page then lists the account itself.
 */
function refreshBranch(functionArns: FunctionArns, settings: CleanupSettings): AslDefinition {
    return {
        Comment: "the next page's listing, made while this page deletes",
        StartAt: StateNames.refreshDue,
        States: {
            [StateNames.refreshDue]: {
                Type: "Choice",
                Choices: [
                    {
                        And: [
                            { Variable: "$.listed.refreshDue", IsPresent: true },
                            { Variable: "$.listed.refreshDue", BooleanEquals: true },
                        ],
                        Next: StateNames.refresh,
                    },
                ],
                Default: StateNames.refreshSkipped,
            },
            [StateNames.refresh]: {
                Type: "Task",
                Resource: functionArns.list,
                Parameters: {
                    settings,
                    refresh: true,
                    "run.$": "$.continuation.firstExecution",
                    "after.$": "$.listed.cursor",
                },
                // A refresh that cannot finish soon is given up: a page must not wait long for it.
                TimeoutSeconds: REFRESH_TIMEOUT_SECONDS,
                Retry: [{ ...retryLambda, MaxAttempts: 2 }],
                Catch: [
                    { ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: StateNames.refreshFailed },
                ],
                End: true,
            },
            [StateNames.refreshFailed]: {
                Type: "Pass",
                Parameters: { "refreshFailed.$": "$.error.Error" },
                End: true,
            },
            [StateNames.refreshSkipped]: { Type: "Pass", Result: {}, End: true },
        },
    };
}
