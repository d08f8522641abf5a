// EC2's token buckets in front of an SDK client, on a clock that runs `scale` times faster than the wall clock, so
// an hour of throttled deleting fits in a benchmark. A refused call fails as EC2 fails it: RequestLimitExceeded.
import { DeleteSnapshotCommand, DescribeImagesCommand, type EC2Client } from "@aws-sdk/client-ec2";

export interface BucketSpec {
    burst: number;
    refillPerSecond: number;
}

/** EC2 API request throttling (AWS docs: "Request throttling for the Amazon EC2 API"), per account and region. */
export const EC2_BUCKETS: Record<string, BucketSpec> = {
    DeregisterImage: { burst: 100, refillPerSecond: 5 },
    DeleteSnapshot: { burst: 100, refillPerSecond: 5 },
    DescribeImages: { burst: 100, refillPerSecond: 20 },
    // Not listed among EC2's own buckets: the shared bucket of non-mutating actions.
    DescribeImageAttribute: { burst: 100, refillPerSecond: 20 },
    DescribeSnapshots: { burst: 100, refillPerSecond: 20 },
};

export class TokenBucket {
    private tokens: number;
    private last: number;
    /** Refill that arrived while the bucket was full: capacity nobody used. */
    wasted = 0;
    constructor(
        private readonly spec: BucketSpec,
        private readonly now: () => number,
    ) {
        this.tokens = spec.burst;
        this.last = now();
    }
    take(): boolean {
        const t = this.now();
        const refilled = this.tokens + (t - this.last) * this.spec.refillPerSecond;
        this.wasted += Math.max(0, refilled - this.spec.burst);
        this.tokens = Math.min(this.spec.burst, refilled);
        this.last = t;
        if (this.tokens < 1) return false;
        this.tokens -= 1;
        return true;
    }
}

export interface Throttle {
    /** Simulated seconds since the throttle was put in place. */
    now(): number;
    /** Simulated times at which each bucket let a call through. */
    granted: Record<string, number[]>;
    refused: Record<string, number>;
    buckets: Record<string, TokenBucket>;
    remove(): void;
}

export function throttleEc2(ec2: EC2Client, scale: number, buckets = EC2_BUCKETS): Throttle {
    const start = performance.now();
    const now = () => ((performance.now() - start) / 1000) * scale;
    const live = Object.fromEntries(
        Object.entries(buckets).map(([a, spec]) => [a, new TokenBucket(spec, now)]),
    );
    const throttle: Throttle = { now, granted: {}, refused: {}, buckets: live, remove: () => {} };
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
            if (bucket) {
                // When the token was taken, which is what the bucket's rate governs.
                throttle.granted[action] = throttle.granted[action] ?? [];
                throttle.granted[action].push(now());
            }
            return next(args);
        },
        { step: "initialize", name },
    );
    throttle.remove = () => ec2.middlewareStack.remove(name);
    return throttle;
}

/**
 * Makes moto honour DeregisterImage's DeleteAssociatedSnapshots as EC2 does (moto ignores it): after the image is
 * deregistered, its snapshots that no other image uses are deleted within the same call, outside any bucket.
 */
export function deleteAssociatedSnapshotsLikeEc2(ec2: EC2Client, raw: EC2Client): () => void {
    const name = "image-janitor-bench-delete-associated";
    ec2.middlewareStack.add(
        (next, context) => async (args) => {
            const input = args.input as {
                ImageId?: string;
                DeleteAssociatedSnapshots?: boolean;
                DryRun?: boolean;
            };
            if (
                context.commandName !== "DeregisterImageCommand" ||
                !input.DeleteAssociatedSnapshots ||
                input.DryRun
            )
                return next(args);
            const images = (await raw.send(new DescribeImagesCommand({ ImageIds: [input.ImageId ?? ""] })))
                .Images;
            const result = await next(args);
            const deleted: { SnapshotId: string; ReturnCode: "success" }[] = [];
            for (const m of images?.[0]?.BlockDeviceMappings ?? []) {
                const SnapshotId = m.Ebs?.SnapshotId;
                if (!SnapshotId) continue;
                try {
                    await raw.send(new DeleteSnapshotCommand({ SnapshotId }));
                    deleted.push({ SnapshotId, ReturnCode: "success" });
                } catch {
                    // In use by another image, as EC2 would leave it.
                }
            }
            (result.output as { DeleteSnapshotResults?: unknown }).DeleteSnapshotResults = deleted;
            return result;
        },
        { step: "initialize", name, priority: "low" },
    );
    return () => ec2.middlewareStack.remove(name);
}
