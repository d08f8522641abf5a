// Pure builder for the cleanup state machine's Amazon States Language: function ARNs and options in, plain object out.
// The deployed state machine and the local runner both use it, so they cannot drift.

import { validHours, wholeNumber } from "../functions/core/validate";

export const StateNames = {
    list: "ListExpiredImagesState",
    map: "DeleteImageMapState",
    deregister: "DeleteImageState",
    snapshots: "DeleteSnapshotState",
    imageDone: "ImageDoneState",
    imageFailed: "ImageFailedState",
    summarize: "SummarizeState",
    detectFailures: "DetectFailuresState",
    checkFailures: "CheckFailuresState",
    reportFailures: "ReportFailuresState",
    partialFailure: "PartialFailureState",
    done: "DoneState",
} as const;

/** The error a run ends with when any AMI failed: the run is visibly failed, never a silent success. */
export const PARTIAL_FAILURE_ERROR = "ImageJanitor.PartialFailure";

export interface DefinitionOptions {
    listFunctionArn: string;
    deregisterFunctionArn: string;
    deleteSnapshotsFunctionArn: string;
    /** An AMI strictly older than this many hours is expired. */
    validHours: number;
    /** Send every EC2 call with DryRun: proves permissions, deletes nothing. */
    dryRun: boolean;
    /** AMIs worked on at once by the inline Map (1 to 40). */
    maxConcurrency: number;
    /** An AMI with this tag key is kept unless the value is `false`. Defaults to `image-janitor:keep`. */
    keepTagKey?: string;
    /** Keep the newest N AMIs of each group. Defaults to `0` (off). */
    keepLatest?: number;
    /** Group by this tag's value instead of the name. Defaults to grouping by name. */
    groupByTag?: string;
    /** Keep AMIs in use by instances or launch templates. Defaults to `true`. */
    protectInUse?: boolean;
}

export type AslState = Record<string, unknown>;
export interface AslDefinition {
    Comment: string;
    StartAt: string;
    States: Record<string, AslState>;
}

/** Transient Lambda service errors AWS recommends retrying on every Lambda task. */
export const LAMBDA_TRANSIENT_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
];

const retryTransient = {
    ErrorEquals: LAMBDA_TRANSIENT_ERRORS,
    IntervalSeconds: 1,
    MaxAttempts: 6,
    BackoffRate: 2,
    MaxDelaySeconds: 30,
    JitterStrategy: "FULL",
};

// EC2 still throttling after the SDK's adaptive retries: back off longer, with jitter, so the bucket refills.
const retryThrottled = {
    ErrorEquals: ["ImageJanitor.Throttled"],
    IntervalSeconds: 2,
    MaxAttempts: 8,
    BackoffRate: 2,
    MaxDelaySeconds: 60,
    JitterStrategy: "FULL",
};

// A just-deregistered AMI can hold its snapshots for a few seconds.
const retrySnapshotInUse = {
    ErrorEquals: ["ImageJanitor.SnapshotStillInUse"],
    IntervalSeconds: 5,
    MaxAttempts: 5,
    BackoffRate: 2,
    MaxDelaySeconds: 60,
    JitterStrategy: "FULL",
};

const catchAll = { ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: StateNames.imageFailed };

export function validateDefinitionOptions(o: DefinitionOptions): void {
    validHours(o.validHours);
    wholeNumber("maxConcurrency", o.maxConcurrency, 1, 40);
}

export function buildDefinition(o: DefinitionOptions): AslDefinition {
    validateDefinitionOptions(o);
    const doneStatus = o.dryRun ? "would-delete" : "deleted";
    return {
        Comment: `image-janitor: deregister AMIs older than ${o.validHours} hours and delete their snapshots${o.dryRun ? " (dry run)" : ""}`,
        StartAt: StateNames.list,
        States: {
            [StateNames.list]: {
                Type: "Task",
                Resource: o.listFunctionArn,
                Parameters: {
                    valid_hours: o.validHours,
                    keep_tag_key: o.keepTagKey ?? "image-janitor:keep",
                    keep_latest: o.keepLatest ?? 0,
                    protect_in_use: o.protectInUse ?? true,
                    ...(o.groupByTag ? { group_by_tag: o.groupByTag } : {}),
                },
                ResultPath: "$.listed",
                Retry: [retryTransient, retryThrottled],
                Next: StateNames.map,
            },
            [StateNames.map]: {
                Type: "Map",
                ItemsPath: "$.listed.images",
                MaxConcurrency: o.maxConcurrency,
                ItemSelector: { "image.$": "$$.Map.Item.Value", dryRun: o.dryRun },
                ItemProcessor: {
                    ProcessorConfig: { Mode: "INLINE" },
                    StartAt: StateNames.deregister,
                    States: {
                        [StateNames.deregister]: {
                            Type: "Task",
                            Resource: o.deregisterFunctionArn,
                            ResultPath: "$.deregister",
                            Retry: [retryTransient, retryThrottled],
                            Catch: [catchAll],
                            Next: StateNames.snapshots,
                        },
                        [StateNames.snapshots]: {
                            Type: "Task",
                            Resource: o.deleteSnapshotsFunctionArn,
                            ResultPath: "$.snapshots",
                            Retry: [retryTransient, retryThrottled, retrySnapshotInUse],
                            Catch: [catchAll],
                            Next: StateNames.imageDone,
                        },
                        // Each iteration returns a compact record, so the Map's result stays far below 256 KiB.
                        [StateNames.imageDone]: {
                            Type: "Pass",
                            Parameters: {
                                "imageId.$": "$.image.imageId",
                                status: doneStatus,
                                "deregister.$": "$.deregister.outcome",
                                "snapshotIds.$": "$.snapshots.deleted",
                                "alreadyGone.$": "$.snapshots.alreadyGone",
                                "skippedSnapshots.$": "$.snapshots.skipped",
                            },
                            End: true,
                        },
                        [StateNames.imageFailed]: {
                            Type: "Pass",
                            Parameters: {
                                "imageId.$": "$.image.imageId",
                                status: "failed",
                                "error.$": "$.error.Error",
                                "cause.$": "$.error.Cause",
                            },
                            End: true,
                        },
                    },
                },
                ResultPath: "$.results",
                Next: StateNames.summarize,
            },
            // The run's summary is its output; on any failed AMI the same summary is the failure's cause.
            [StateNames.summarize]: {
                Type: "Pass",
                Parameters: {
                    summary: {
                        validHours: o.validHours,
                        dryRun: o.dryRun,
                        "expired.$": "States.ArrayLength($.listed.images)",
                        "skipped.$": "$.listed.skipped",
                        "estimatedGiB.$": "$.listed.estimatedGiB",
                        "results.$": "$.results",
                    },
                },
                Next: StateNames.detectFailures,
            },
            // JSONPath filters differ between Step Functions and local runners on empty matches, so failures
            // are found by scanning the compact results as text: only a failed record holds this status.
            [StateNames.detectFailures]: {
                Type: "Pass",
                Parameters: { "text.$": "States.JsonToString($.summary.results)" },
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
                Error: PARTIAL_FAILURE_ERROR,
                CausePath: "$.cause",
            },
            [StateNames.done]: { Type: "Succeed", OutputPath: "$.summary" },
        },
    };
}
