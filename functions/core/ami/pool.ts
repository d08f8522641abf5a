// Working through a batch against EC2's token buckets: a few calls in flight, transient failures (throttling
// included) retried with exponential backoff and full jitter until the Lambda's time runs short.
import { ErrorNames, errorName, isThrottling, janitorError } from "../shared/errors";
import { sleep } from "../shared/time";

export interface Backoff {
    /** First retry waits up to this long. Defaults to 200 ms. */
    baseMs: number;
    /** No retry waits longer than this. Defaults to 5 s: far less than the 20 s EC2's 100-token burst lasts. */
    capMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 200, capMs: 5_000 };

export interface PoolOptions {
    /** Calls in flight at once. */
    concurrency: number;
    backoff?: Backoff;
    /** Milliseconds this invocation has left; no new item starts and no throttled call waits past `reserveMs`. */
    timeLeftMs?: () => number;
    /** Time kept back to finish in-flight calls and return. Defaults to 30 s. */
    reserveMs?: number;
    /** Error names retried with backoff. Defaults to the transient error only. */
    retryOn?: ReadonlySet<string>;
    sleep?: (ms: number) => Promise<void>;
    random?: () => number;
}

const TRANSIENT_ONLY: ReadonlySet<string> = new Set([ErrorNames.transient]);

/** Worth trying again: the pool and the state's Retry do. */
export const isRetryable = (err: unknown): boolean => TRANSIENT_ONLY.has(errorName(err));

/** What an item's call knows of the tries before it. */
export interface Attempt {
    /** 0 for the first try. */
    retry: number;
    /**
     * An earlier try failed in a way that may have been carried out (a timeout, a reset, a 5xx, a lost answer:
     * anything but a refusal for throttling), so "already gone" now may be this run's own doing.
     */
    uncertain: boolean;
}

/** Full jitter: a uniform wait in [0, min(cap, base * 2^attempt)). */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
    return Math.floor(random() * Math.min(backoff.capMs, backoff.baseMs * 2 ** attempt));
}

/**
 * Calls `fn` for every item with at most `concurrency` in flight. A call failing with a retryable name waits
 * and tries again; any other error is the item's outcome. Results come back in item order.
 */
export async function runPool<T, R>(
    items: readonly T[],
    fn: (item: T, attempt: Attempt) => Promise<R>,
    opts: PoolOptions,
): Promise<({ ok: true; value: R } | { ok: false; error: unknown })[]> {
    const backoff = opts.backoff ?? DEFAULT_BACKOFF;
    const timeLeft = opts.timeLeftMs ?? (() => Number.POSITIVE_INFINITY);
    const reserve = opts.reserveMs ?? 30_000;
    const retryOn = opts.retryOn ?? TRANSIENT_ONLY;
    const wait = opts.sleep ?? sleep;
    const random = opts.random ?? Math.random;
    const results: ({ ok: true; value: R } | { ok: false; error: unknown })[] = new Array(items.length);
    let next = 0;
    let outOfTime = false;

    const attempt = async (item: T) => {
        let uncertain = false;
        for (let n = 0; ; n++) {
            try {
                return await fn(item, { retry: n, uncertain });
            } catch (err) {
                if (!retryOn.has(errorName(err))) throw err;
                if (!isThrottling((err as { cause?: unknown }).cause ?? err)) uncertain = true;
                const delay = backoffDelay(n, backoff, random);
                if (timeLeft() - delay < reserve) {
                    outOfTime = true;
                    throw err;
                }
                await wait(delay);
            }
        }
    };
    const worker = async () => {
        while (next < items.length && !outOfTime) {
            if (timeLeft() < reserve) {
                outOfTime = true;
                break;
            }
            const i = next++;
            try {
                results[i] = { ok: true, value: await attempt(items[i]) };
            } catch (error) {
                results[i] = { ok: false, error };
            }
        }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, items.length)) }, worker));
    if (outOfTime) {
        const done = results.filter((r) => r?.ok).length;
        // The state's Retry runs the batch again, and the re-check finds the finished AMIs done.
        throw janitorError(
            ErrorNames.outOfTime,
            `time ran short after ${done} of ${items.length} items; the state retries the batch and skips finished ones`,
        );
    }
    return results;
}
