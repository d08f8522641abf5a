// EC2's token buckets in front of an SDK client, on a clock that runs `scale` times faster than the wall clock, so
// an hour of throttled deleting fits in a benchmark. A refused call fails as EC2 fails it: RequestLimitExceeded.
import type { EC2Client } from "@aws-sdk/client-ec2";

export interface BucketSpec {
    burst: number;
    refillPerSecond: number;
}

/** From AWS-FACTS.md: per account and region. */
export const EC2_BUCKETS: Record<string, BucketSpec> = {
    DeregisterImage: { burst: 100, refillPerSecond: 5 },
    DeleteSnapshot: { burst: 100, refillPerSecond: 5 },
    DescribeImages: { burst: 100, refillPerSecond: 20 },
    DescribeSnapshots: { burst: 100, refillPerSecond: 20 },
};

export class TokenBucket {
    private tokens: number;
    private last: number;
    constructor(
        private readonly spec: BucketSpec,
        private readonly now: () => number,
    ) {
        this.tokens = spec.burst;
        this.last = now();
    }
    take(): boolean {
        const t = this.now();
        this.tokens = Math.min(this.spec.burst, this.tokens + (t - this.last) * this.spec.refillPerSecond);
        this.last = t;
        if (this.tokens < 1) return false;
        this.tokens -= 1;
        return true;
    }
}

export interface Throttle {
    /** Simulated seconds since the throttle was put in place. */
    now(): number;
    /** Simulated times of the calls each bucket let through. */
    granted: Record<string, number[]>;
    refused: Record<string, number>;
    remove(): void;
}

export function throttleEc2(ec2: EC2Client, scale: number, buckets = EC2_BUCKETS): Throttle {
    const start = performance.now();
    const now = () => ((performance.now() - start) / 1000) * scale;
    const live = Object.fromEntries(Object.entries(buckets).map(([a, spec]) => [a, new TokenBucket(spec, now)]));
    const throttle: Throttle = { now, granted: {}, refused: {}, remove: () => {} };
    const name = "image-janitor-bench-throttle";
    ec2.middlewareStack.add(
        (next, context) => async (args) => {
            const action = String(context.commandName ?? "").replace(/Command$/, "");
            const bucket = live[action];
            if (bucket && !bucket.take()) {
                throttle.refused[action] = (throttle.refused[action] ?? 0) + 1;
                throw Object.assign(new Error("Request limit exceeded."), {
                    name: "RequestLimitExceeded",
                    $fault: "client",
                    $metadata: { httpStatusCode: 503 },
                });
            }
            const result = await next(args);
            if (bucket) (throttle.granted[action] ??= []).push(now());
            return result;
        },
        { step: "initialize", name },
    );
    throttle.remove = () => ec2.middlewareStack.remove(name);
    return throttle;
}
