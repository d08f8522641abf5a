// SDK client settings shared by every entry and the local runner: a retry strategy that keeps retrying transient
// faults with backoff and jitter (the SDK's standard one shares a retry quota per client that sustained faults
// run dry), and a deadline on every request, so a stalled connection fails as a timeout and is retried.
import type { AutoScalingClientConfig } from "@aws-sdk/client-auto-scaling";
import type { EC2ClientConfig } from "@aws-sdk/client-ec2";
import type { SSMClientConfig } from "@aws-sdk/client-ssm";
import type { RetryErrorInfo, RetryStrategyV2, StandardRetryToken } from "@smithy/types";

export interface RetryPolicy {
    /** Attempts per request, the first included. */
    maxAttempts: number;
    /** Full jitter: retry n waits a uniform time below min(capMs, baseMs × 2^n). */
    baseMs: number;
    /** Throttling backs off from a longer base, as the SDK's standard strategy does. */
    throttlingBaseMs: number;
    capMs: number;
    random?: () => number;
}

/** Five attempts over at most about 20 s; after that the batch pool and the state's Retry take over. */
export const RETRY_POLICY: RetryPolicy = { maxAttempts: 5, baseMs: 100, throttlingBaseMs: 500, capMs: 8_000 };

/** Each request must answer within this; a stalled one fails as TimeoutError, which is transient. */
export const REQUEST_TIMEOUT_MS = 30_000;
export const CONNECTION_TIMEOUT_MS = 5_000;

const token = (count: number, delay: number): StandardRetryToken => ({
    getRetryCount: () => count,
    getRetryDelay: () => delay,
    getRetryCost: () => 0,
});

/**
 * Retries throttling, transient and server errors up to `maxAttempts`, with no quota: each request's retries are
 * its own. Client errors are not retried.
 */
export function patientRetryStrategy(policy: RetryPolicy = RETRY_POLICY): RetryStrategyV2 {
    const random = policy.random ?? Math.random;
    return {
        acquireInitialRetryToken: async () => token(0, 0),
        refreshRetryTokenForRetry: async (previous: StandardRetryToken, info: RetryErrorInfo) => {
            const count = previous.getRetryCount() + 1;
            if (info.errorType === "CLIENT_ERROR" || count >= policy.maxAttempts)
                throw info.error ?? new Error("no retry");
            const base = info.errorType === "THROTTLING" ? policy.throttlingBaseMs : policy.baseMs;
            const hint = info.retryAfterHint ? info.retryAfterHint.getTime() - Date.now() : 0;
            const delay = Math.max(hint, Math.floor(random() * Math.min(policy.capMs, base * 2 ** count)));
            return token(count, delay);
        },
        recordSuccess: () => {},
    };
}

/** What every client of the cleanup is created with. */
export const clientConfig = {
    maxAttempts: RETRY_POLICY.maxAttempts,
    retryStrategy: patientRetryStrategy(),
    requestHandler: {
        requestTimeout: REQUEST_TIMEOUT_MS,
        connectionTimeout: CONNECTION_TIMEOUT_MS,
        throwOnRequestTimeout: true,
    },
};

export const ec2ClientConfig: EC2ClientConfig = clientConfig;
export const autoScalingClientConfig: AutoScalingClientConfig = clientConfig;
export const ssmClientConfig: SSMClientConfig = clientConfig;
