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

export function errorName(err: unknown): string {
    if (err && typeof err === "object") {
        const e = err as { name?: unknown; Code?: unknown; code?: unknown };
        for (const v of [e.name, e.Code, e.code]) if (typeof v === "string" && v !== "Error") return v;
    }
    return "Error";
}

export function errorMessage(err: unknown): string {
    if (err instanceof Error) return err.message;
    if (err && typeof err === "object" && "message" in err)
        return String((err as { message: unknown }).message);
    return String(err);
}

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
