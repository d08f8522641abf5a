// Client-side pacing: each action's calls spaced just under EC2's refill rate, on an injected clock, every SDK
// attempt (retries included) waiting for its token, and a refusal slowing the pace. The buckets follow AWS's
// "Request throttling for the Amazon EC2 API": burst and refill per action, per account and region.
import * as assert from "node:assert/strict";
import { CreateTagsCommand, DeregisterImageCommand, EC2Client } from "@aws-sdk/client-ec2";
import { patientRetryStrategy, RETRY_POLICY } from "../../functions/core/shared/clients";
import {
    createPacer,
    EC2_RATES,
    PACER_MIDDLEWARE,
    paced,
    SLOW_AFTER_REFUSAL_MS,
    UTILIZATION,
} from "../../functions/core/shared/pacing";

/** A clock that only moves when the pacer sleeps. */
function fakeClock() {
    let t = 0;
    return {
        now: () => t,
        sleep: async (ms: number) => {
            t += ms;
        },
        advance: (ms: number) => {
            t += ms;
        },
    };
}

const rates = { DeregisterImage: { burst: 100, perSecond: 5 } };
const gapMs = 1000 / (5 * UTILIZATION);

/** When each of `n` sequential takes got its token, in ms. */
async function takeTimes(
    pacer: ReturnType<typeof createPacer>,
    clock: ReturnType<typeof fakeClock>,
    n: number,
) {
    const at: number[] = [];
    for (let i = 0; i < n; i++) {
        await pacer.take("DeregisterImage");
        at.push(clock.now());
    }
    return at;
}

describe("pacing", () => {
    it("has EC2's documented buckets for the actions a batch calls once per AMI", () => {
        assert.deepEqual(EC2_RATES, {
            DeregisterImage: { burst: 100, perSecond: 5 },
            DeleteSnapshot: { burst: 100, perSecond: 5 },
            CreateTags: { burst: 100, perSecond: 10 },
            DisableImage: { burst: 50, perSecond: 5 },
            DescribeImageAttribute: { burst: 100, perSecond: 20 },
        });
    });

    it("starts empty and lets calls through at 97% of the refill rate", async () => {
        const clock = fakeClock();
        const pacer = createPacer({ rates, ...clock });
        const at = await takeTimes(pacer, clock, 50);
        // 50 tokens at 4.85 a second: the 50th after 50 / 4.85 s, within a millisecond a token.
        assert.ok(Math.abs(at[49] - 50 * gapMs) < 50, `50th call at ${at[49]} ms`);
        assert.ok(at[0] >= gapMs - 1, `first call at ${at[0]} ms: the bucket starts empty`);
        assert.ok(pacer.stats.waitedMs >= 50 * gapMs - 50);
    });

    it("saves tokens while idle, up to the burst, and spends them at once", async () => {
        const clock = fakeClock();
        const pacer = createPacer({ rates, ...clock });
        clock.advance(60_000); // 291 tokens of refill, capped at the burst of 100
        const at = await takeTimes(pacer, clock, 101);
        assert.equal(at[99], 60_000, "the first 100 go at once");
        assert.ok(at[100] > 60_000 + gapMs - 2, `the 101st waits for refill (${at[100]})`);
    });

    it("gives each of n pacers 1/n of the burst and the rate", async () => {
        const clock = fakeClock();
        const pacer = createPacer({ rates, ...clock });
        clock.advance(60_000);
        pacer.divideAmong(2);
        const at = await takeTimes(pacer, clock, 60);
        assert.equal(at[49], 60_000, "half the burst saved");
        assert.ok(at[50] > 60_000, "not more");
        assert.ok(
            Math.abs(at[59] - at[50] - 9 * 2 * gapMs) < 10,
            `half the rate: ${at[59] - at[50]} ms for 9`,
        );
        assert.throws(() => pacer.divideAmong(0), {
            name: "RangeError",
            message:
                "settings.maxConcurrency must be a whole number 1 or more to divide the pacer's rates (got 0)",
        });
    });

    it("after a refusal, spends nothing saved and goes at half pace for a while", async () => {
        const clock = fakeClock();
        const pacer = createPacer({ rates, ...clock });
        clock.advance(10_000);
        pacer.refused("DeregisterImage");
        const start = clock.now();
        const at = await takeTimes(pacer, clock, 10);
        assert.ok(at[0] - start >= 2 * gapMs - 1, `the saved tokens are gone (${at[0] - start} ms)`);
        assert.ok(Math.abs(at[9] - start - 10 * 2 * gapMs) < 10, `half pace: ${at[9] - start} ms for 10`);
        clock.advance(SLOW_AFTER_REFUSAL_MS);
        const later = await takeTimes(pacer, clock, 60);
        assert.ok(Math.abs(later[59] - later[50] - 9 * gapMs) < 10, "full pace again");
        assert.deepEqual(pacer.stats.refused, { DeregisterImage: 1 });
    });

    it("refills an idle spell that outlasts the slow pace at half the pace up to its end, full after", async () => {
        const clock = fakeClock();
        const pacer = createPacer({ rates, ...clock });
        pacer.refused("DeregisterImage");
        // Idle for the slow spell and as long again: 10 s at 2.425 a second, then 10 s at 4.85.
        clock.advance(2 * SLOW_AFTER_REFUSAL_MS);
        const saved = ((SLOW_AFTER_REFUSAL_MS / 1000) * 5 * UTILIZATION * 3) / 2;
        const at = await takeTimes(pacer, clock, Math.floor(saved) + 1);
        const start = 2 * SLOW_AFTER_REFUSAL_MS;
        assert.equal(at[Math.floor(saved) - 1], start, `${Math.floor(saved)} saved go at once`);
        assert.ok(at[Math.floor(saved)] > start, "not one more");
    });

    it("lets an action without a rate through at once, and queues concurrent callers in turn", async () => {
        const clock = fakeClock();
        const pacer = createPacer({ rates, ...clock });
        await pacer.take("DescribeImages");
        assert.equal(clock.now(), 0);
        const done: number[] = [];
        await Promise.all([0, 1, 2, 3].map((i) => pacer.take("DeregisterImage").then(() => done.push(i))));
        assert.deepEqual(done, [0, 1, 2, 3]);
        assert.ok(Math.abs(clock.now() - 4 * gapMs) < 5, `${clock.now()} ms for 4`);
    });

    it("sits inside the SDK's retries: every attempt takes a token, and a refusal is reported", async () => {
        const taken: string[] = [];
        const refused: string[] = [];
        const pacer = {
            stats: { calls: {}, refused: {}, waitedMs: 0 },
            take: async (action: string) => {
                taken.push(action);
            },
            refused: (action: string) => {
                refused.push(action);
            },
            divideAmong: () => {},
        };
        const ec2 = paced(
            new EC2Client({
                region: "us-east-1",
                credentials: { accessKeyId: "a", secretAccessKey: "b" },
                maxAttempts: RETRY_POLICY.maxAttempts,
                retryStrategy: patientRetryStrategy({ ...RETRY_POLICY, throttlingBaseMs: 1, baseMs: 1 }),
            }),
            pacer,
        );
        let attempts = 0;
        // EC2 itself, closest to the wire: refuses twice, then answers.
        ec2.middlewareStack.addRelativeTo(
            () => async () => {
                attempts += 1;
                if (attempts <= 2)
                    throw Object.assign(new Error("Request limit exceeded."), {
                        name: "RequestLimitExceeded",
                        $fault: "client",
                        $metadata: { httpStatusCode: 503 },
                    });
                return { output: { $metadata: {}, Return: true }, response: {} };
            },
            { relation: "after", toMiddleware: PACER_MIDDLEWARE, name: "ec2" },
        );
        const out = await ec2.send(new DeregisterImageCommand({ ImageId: "ami-1" }));
        assert.equal(out.Return, true);
        await ec2.send(new CreateTagsCommand({ Resources: ["ami-1"], Tags: [] }));
        assert.deepEqual(taken, ["DeregisterImage", "DeregisterImage", "DeregisterImage", "CreateTags"]);
        assert.deepEqual(refused, ["DeregisterImage", "DeregisterImage"]);
    });
});
