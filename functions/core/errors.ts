// AWS error classification shared by every core: matched on err.name, never instanceof.

/** The error names the state machine's Retry and Catch blocks match on. */
export const ErrorNames = {
    /** Bad event or config: never retried. */
    invalidInput: "ImageJanitor.InvalidInput",
    /** EC2 still throttled after the SDK's own retries: the state retries with backoff and jitter. */
    throttled: "ImageJanitor.Throttled",
    /** A snapshot still attached to the AMI just deregistered: EC2 releases it shortly, so retry. */
    snapshotStillInUse: "ImageJanitor.SnapshotStillInUse",
    /** Any other AWS failure: caught per AMI and reported. */
    awsError: "ImageJanitor.AwsError",
} as const;

export class JanitorError extends Error {
    constructor(name: string, message: string) {
        super(message);
        this.name = name;
    }
}

const THROTTLING = new Set([
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
]);

/** The AWS error code: SDK v3 puts it in `name`. */
export const errorName = (err: unknown): string => (err as { name?: string } | undefined)?.name ?? "Error";

export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export const isThrottling = (err: unknown): boolean => THROTTLING.has(errorName(err));

/** Names the thing being worked on, the call and the AWS error, and picks the name the ASL retries on. */
export function wrapAwsError(subject: string, action: string, err: unknown): JanitorError {
    const name = isThrottling(err) ? ErrorNames.throttled : ErrorNames.awsError;
    return new JanitorError(name, `${subject}: ${action} failed: ${errorName(err)}: ${errorMessage(err)}`);
}

export function invalidInput(key: string, value: unknown, allowed: string): JanitorError {
    return new JanitorError(
        ErrorNames.invalidInput,
        `${key} must be ${allowed} (got ${JSON.stringify(value) ?? String(value)})`,
    );
}
