// Client-side pacing of EC2 calls: one token bucket per action, just under the refill rate of EC2's own bucket
// for it, in front of every attempt the SDK makes (its retries included). A run then waits its turn instead of
// learning the limit from refusals, and leaves the account's buckets usable for everyone else.
import type { EC2Client, ServiceInputTypes, ServiceOutputTypes } from "@aws-sdk/client-ec2";
import type { FinalizeRequestMiddleware } from "@smithy/types";
import { isThrottling } from "./errors";
import { sleep as realSleep } from "./time";

export interface Rate {
    /** Tokens EC2's bucket holds. */
    burst: number;
    /** Tokens it gets back each second. */
    perSecond: number;
}

/**
 * EC2's request buckets, per account and region (AWS, "Request throttling for the Amazon EC2 API"), for the
 * actions a batch calls once per AMI or snapshot. DeregisterImage, DeleteSnapshot and CreateTags are named in
 * its table; DisableImage falls in its "mutating actions" and DescribeImageAttribute in its "non-mutating
 * actions". Other actions (a listing, one re-check per batch) are not paced: the SDK's retries cover them.
 */
export const EC2_RATES: Readonly<Record<string, Rate>> = {
    DeregisterImage: { burst: 100, perSecond: 5 },
    DeleteSnapshot: { burst: 100, perSecond: 5 },
    CreateTags: { burst: 100, perSecond: 10 },
    DisableImage: { burst: 50, perSecond: 5 },
    DescribeImageAttribute: { burst: 100, perSecond: 20 },
};

/** The share of each refill rate a run takes; the rest is left for others in the account. */
export const UTILIZATION = 0.97;
/** After a refusal (someone else is using the bucket too), the pace is halved for this long. */
export const SLOW_AFTER_REFUSAL_MS = 10_000;

export interface PacerOptions {
    rates?: Readonly<Record<string, Rate>>;
    utilization?: number;
    /** Milliseconds, monotonic. */
    now?: () => number;
    sleep?: (ms: number) => Promise<void>;
}

export interface PacerStats {
    /** Calls that went through, per action. */
    calls: Record<string, number>;
    /** Calls EC2 refused for throttling all the same, per action. */
    refused: Record<string, number>;
    /** Milliseconds spent waiting for a token, all actions. */
    waitedMs: number;
}

export interface Pacer {
    /** Waits for the action's next token; an action without a rate goes at once. */
    take(action: string): Promise<void>;
    /** EC2 refused a call for throttling: its bucket is empty, whatever this one counted. */
    refused(action: string): void;
    /**
     * `n` pacers like this one call EC2 at once (one per batch running in parallel): each takes 1/n of every
     * burst and rate. Tokens already saved beyond the new share are dropped.
     */
    divideAmong(n: number): void;
    readonly stats: PacerStats;
}

interface Bucket {
    tokens: number;
    last: number;
    slowUntil: number;
    /** Callers waiting, so that each waits for its own token and they go in turn. */
    queue: Promise<void>;
}

/**
 * A pacer whose buckets start empty when it is created: a run never spends a burst it did not save by waiting, so a new
 * container or a second run cannot add its burst to a bucket someone else emptied.
 */
export function createPacer(opts: PacerOptions = {}): Pacer {
    const rates = opts.rates ?? EC2_RATES;
    const utilization = opts.utilization ?? UTILIZATION;
    const now = opts.now ?? (() => performance.now());
    const wait = opts.sleep ?? realSleep;
    let share = 1;
    const created = now();
    const buckets = new Map<string, Bucket>();
    const stats: PacerStats = { calls: {}, refused: {}, waitedMs: 0 };

    const bucketOf = (action: string): Bucket => {
        let b = buckets.get(action);
        if (!b) {
            b = { tokens: 0, last: created, slowUntil: 0, queue: Promise.resolve() };
            buckets.set(action, b);
        }
        return b;
    };
    const capacityOf = (rate: Rate) => Math.max(1, rate.burst * share);
    const perMsOf = (rate: Rate, b: Bucket, t: number) =>
        (rate.perSecond * utilization * share * (t < b.slowUntil ? 0.5 : 1)) / 1000;
    // An interval that spans the end of a slow spell refills at half the pace up to it and at the full pace after.
    const refill = (rate: Rate, b: Bucket) => {
        const t = now();
        const slowEnd = Math.min(t, Math.max(b.last, b.slowUntil));
        const gained = (slowEnd - b.last) * perMsOf(rate, b, b.last) + (t - slowEnd) * perMsOf(rate, b, t);
        b.tokens = Math.min(capacityOf(rate), b.tokens + gained);
        b.last = t;
    };

    const takeOne = async (rate: Rate, b: Bucket) => {
        for (;;) {
            refill(rate, b);
            if (b.tokens >= 1) {
                b.tokens -= 1;
                return;
            }
            const ms = Math.ceil((1 - b.tokens) / perMsOf(rate, b, b.last));
            stats.waitedMs += ms;
            await wait(ms);
        }
    };

    return {
        stats,
        take(action) {
            const rate = rates[action];
            stats.calls[action] = (stats.calls[action] ?? 0) + 1;
            if (!rate) return Promise.resolve();
            const b = bucketOf(action);
            const mine = b.queue.then(() => takeOne(rate, b));
            b.queue = mine.catch(() => {});
            return mine;
        },
        refused(action) {
            stats.refused[action] = (stats.refused[action] ?? 0) + 1;
            const rate = rates[action];
            if (!rate) return;
            const b = bucketOf(action);
            refill(rate, b);
            b.tokens = Math.min(b.tokens, 0);
            b.slowUntil = b.last + SLOW_AFTER_REFUSAL_MS;
        },
        divideAmong(n) {
            if (!Number.isInteger(n) || n < 1)
                throw new RangeError(
                    `settings.maxConcurrency must be a whole number 1 or more to divide the pacer's rates (got ${n})`,
                );
            for (const [action, b] of buckets) {
                const rate = rates[action];
                if (rate) refill(rate, b);
            }
            share = 1 / n;
            for (const [action, b] of buckets) {
                const rate = rates[action];
                if (rate) b.tokens = Math.min(b.tokens, capacityOf(rate));
            }
        },
    };
}

/** The SDK step the pacer sits at: inside the retry loop, so every attempt waits for its token. */
export const PACER_MIDDLEWARE = "image-janitor-pacer";

/** Puts `pacer` in front of every attempt `client` makes, and tells it of every refusal. Returns the client. */
export function paced(client: EC2Client, pacer: Pacer): EC2Client {
    const middleware: FinalizeRequestMiddleware<ServiceInputTypes, ServiceOutputTypes> =
        (next, context) => async (args) => {
            const action = String(context.commandName ?? "").replace(/Command$/, "");
            await pacer.take(action);
            try {
                return await next(args);
            } catch (err) {
                if (isThrottling(err)) pacer.refused(action);
                throw err;
            }
        };
    client.middlewareStack.addRelativeTo(middleware, {
        relation: "after",
        toMiddleware: "retryMiddleware",
        name: PACER_MIDDLEWARE,
    });
    return client;
}
