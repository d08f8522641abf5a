// Every error name image-janitor raises or matches, in one table. Errors are plain `Error`s with a name, raised
// by `janitorError` and matched by `errorName`: Pulumi's closure serializer rewrites classes, and the state
// machine's Retry and Catch match on the name alone.

/** The names image-janitor raises. An enum, so that a bundle inlines the names it uses and carries no others. */
export enum ErrorNames {
    /** Bad event, config or flag: never retried. */
    invalidInput = "ImageJanitor.InvalidInput",
    /**
     * Worth trying again: throttling, a 5xx, a network fault or a timeout, still failing after the SDK's own
     * retries. The batch pool and every Task state retry it with backoff and jitter.
     */
    transient = "ImageJanitor.Transient",
    /** A batch ran short of its invocation's time: the state runs it again and finished AMIs are found done. */
    outOfTime = "ImageJanitor.OutOfTime",
    /** A snapshot still attached to the AMI just deregistered: EC2 releases it shortly, so retry. */
    snapshotStillInUse = "ImageJanitor.SnapshotStillInUse",
    /** The endpoint cannot be reached (DNS, refused connection, TLS). */
    unreachable = "ImageJanitor.Unreachable",
    /** No credentials, or credentials AWS does not accept. */
    noCredentials = "ImageJanitor.NoCredentials",
    /** The credentials lack a permission. */
    accessDenied = "ImageJanitor.AccessDenied",
    /** Any other AWS failure: caught per AMI and reported. */
    awsError = "ImageJanitor.AwsError",
    /** A repository could not be emptied. */
    emptyRepositoryFailed = "ImageJanitor.EmptyRepositoryFailed",
    /** A run in which any AMI failed ends with this error, its summary the cause. */
    partialFailure = "ImageJanitor.PartialFailure",
    /** The local runner refuses to delete while a deployed cleanup of the same region is running. */
    deployedRunInProgress = "ImageJanitor.DeployedRunInProgress",
}

/** Any one of them. */
export type ErrorName = ErrorNames;

// The AWS error codes image-janitor matches (SDK v3 puts the code in `err.name`). Separate constants, marked pure,
// so a bundle carries only those it uses: the inline custom-resource code has 4,096 characters in all.
export const DRY_RUN = "DryRunOperation";
export const SNAPSHOT_IN_USE = "InvalidSnapshot.InUse";
export const REPOSITORY_NOT_FOUND = "RepositoryNotFoundException";
/** A BatchDeleteImage failure code, not an error name. */
export const ECR_IMAGE_NOT_FOUND = "ImageNotFound";
/** The AMI is gone: deleted by someone else, or by an earlier run. */
export const IMAGE_GONE: ReadonlySet<string> = /* @__PURE__ */ new Set([
    "InvalidAMIID.NotFound",
    "InvalidAMIID.Unavailable",
]);
/** A lookup by id that EC2 refuses because an id names no AMI it has: gone, or never one. */
export const IMAGE_ID_UNKNOWN: ReadonlySet<string> = /* @__PURE__ */ new Set([
    "InvalidAMIID.NotFound",
    "InvalidAMIID.Unavailable",
    "InvalidAMIID.Malformed",
]);
export const SNAPSHOT_GONE: ReadonlySet<string> = /* @__PURE__ */ new Set(["InvalidSnapshot.NotFound"]);
/** How EC2 (or an older endpoint) refuses a parameter it does not know. */
export const UNKNOWN_PARAMETER: ReadonlySet<string> = /* @__PURE__ */ new Set([
    "InvalidParameter",
    "InvalidParameterValue",
    "UnknownParameter",
    "InvalidParameterCombination",
]);
const THROTTLING: ReadonlySet<string> = /* @__PURE__ */ new Set([
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
]);
const ACCESS_DENIED: ReadonlySet<string> = /* @__PURE__ */ new Set([
    "UnauthorizedOperation",
    "AccessDenied",
    "AccessDeniedException",
]);
const NO_CREDENTIALS: ReadonlySet<string> = /* @__PURE__ */ new Set([
    "CredentialsProviderError",
    "AuthFailure",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
]);
/** Node's socket error codes (err.code) that mean nothing answered at the endpoint. */
const UNREACHABLE: ReadonlySet<string> = /* @__PURE__ */ new Set([
    "ECONNREFUSED",
    "ENOTFOUND",
    "EAI_AGAIN",
    "EHOSTUNREACH",
    "ENETUNREACH",
]);
/** The SDK's transient codes (its retry strategy retries them) and Node's for a connection cut or timed out. */
const TRANSIENT: ReadonlySet<string> = /* @__PURE__ */ new Set([
    "TimeoutError",
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "Unavailable",
    "ECONNRESET",
    "EPIPE",
    "ETIMEDOUT",
    "ECONNABORTED",
]);
/** HTTP statuses the SDK treats as transient. */
const TRANSIENT_STATUS: ReadonlySet<number> = /* @__PURE__ */ new Set([429, 500, 502, 503, 504]);

/** A plain Error carrying one of the names above; `cause` is the AWS error behind it, when there is one. */
export function janitorError(name: ErrorName, message: string, cause?: unknown): Error {
    const err = new Error(message, { cause });
    err.name = name;
    return err;
}

/** The error's name: the AWS error code for SDK v3 errors, one of ErrorNames for ours. */
export const errorName = (err: unknown): string => (err as { name?: string } | undefined)?.name ?? "Error";

/** An Error's message; anything else as text. */
export const errorMessage = (err: unknown): string => String((err as { message?: unknown })?.message ?? err);

/** Node's socket error code, where there is one (the SDK leaves it on the error it raises). */
const socketCode = (err: unknown): string => String((err as { code?: unknown } | undefined)?.code ?? "");

export const isThrottling = (err: unknown): boolean => THROTTLING.has(errorName(err));

/** One of ours already: it names what failed, and wrapping it again would only repeat that. */
export const isOurs = (err: unknown): boolean => errorName(err).startsWith("ImageJanitor.");

interface SdkErrorFields {
    $fault?: string;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number; attempts?: number };
}

/** Throttling, a 5xx, a cut connection or a timeout: the SDK's own notion of a retryable error. */
export function isTransient(err: unknown): boolean {
    const e = (err ?? {}) as SdkErrorFields;
    const name = errorName(err);
    return (
        THROTTLING.has(name) ||
        TRANSIENT.has(name) ||
        TRANSIENT.has(socketCode(err)) ||
        e.$retryable !== undefined ||
        e.$fault === "server" ||
        TRANSIENT_STATUS.has(e.$metadata?.httpStatusCode ?? 0)
    );
}

/** The SDK tried more than once: an earlier attempt may have been carried out, its answer lost. */
export const wasRetried = (err: unknown): boolean =>
    ((err as SdkErrorFields | undefined)?.$metadata?.attempts ?? 1) > 1;

/** Which of our names an AWS or SDK error becomes. */
export function classify(err: unknown): ErrorName {
    const name = errorName(err);
    if (isOurs(err)) return name as ErrorName;
    if (ACCESS_DENIED.has(name)) return ErrorNames.accessDenied;
    if (NO_CREDENTIALS.has(name)) return ErrorNames.noCredentials;
    if (UNREACHABLE.has(socketCode(err)) || UNREACHABLE.has(name)) return ErrorNames.unreachable;
    if (isTransient(err)) return ErrorNames.transient;
    return ErrorNames.awsError;
}

/**
 * Names the thing being worked on, the call and the AWS error, under the name the ASL matches. An error of ours
 * passes through as it is.
 */
export function wrapAwsError(subject: string, action: string, err: unknown): Error {
    if (isOurs(err)) return err as Error;
    const code = socketCode(err) && socketCode(err) !== errorName(err) ? ` (${socketCode(err)})` : "";
    return janitorError(
        classify(err),
        `${subject}: ${action} failed: ${errorName(err)}${code}: ${errorMessage(err)}`,
        err,
    );
}

/** Runs one AWS call (or a paginated loop of them), naming the subject and the call in any error it raises. */
export async function calling<T>(subject: string, action: string, fn: () => Promise<T>): Promise<T> {
    try {
        return await fn();
    } catch (err) {
        throw wrapAwsError(subject, action, err);
    }
}

export function invalidInput(key: string, value: unknown, allowed: string): Error {
    return janitorError(
        ErrorNames.invalidInput,
        `${key} must be ${allowed} (got ${JSON.stringify(value) ?? String(value)})`,
    );
}
