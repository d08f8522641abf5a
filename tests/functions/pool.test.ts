// The batch pool: bounded calls in flight, throttled calls retried with full-jitter backoff, and a clean stop
// before the invocation's time runs out.
import * as assert from "node:assert/strict";
import { backoffDelay, runPool } from "../../functions/core/ami/pool";
import { ErrorNames, janitorError } from "../../functions/core/shared/errors";

const throttled = () => janitorError(ErrorNames.transient, "RequestLimitExceeded");

describe("batch pool", () => {
    it("waits a uniform fraction of min(cap, base * 2^attempt)", () => {
        const b = { baseMs: 200, capMs: 5000 };
        assert.deepEqual(
            [0, 1, 2, 5, 10].map((n) => backoffDelay(n, b, () => 0.5)),
            [100, 200, 400, 2500, 2500],
        );
        assert.equal(
            backoffDelay(3, b, () => 0),
            0,
        );
        assert.equal(
            backoffDelay(3, b, () => 0.999999),
            1599,
        );
    });

    it("keeps at most `concurrency` calls in flight and returns results in item order", async () => {
        let inFlight = 0;
        let most = 0;
        const results = await runPool(
            Array.from({ length: 25 }, (_, i) => i),
            async (i) => {
                inFlight += 1;
                most = Math.max(most, inFlight);
                await new Promise((r) => setTimeout(r, (i * 7) % 5));
                inFlight -= 1;
                return i * 2;
            },
            { concurrency: 4 },
        );
        assert.equal(most, 4);
        assert.deepEqual(
            results.map((r) => (r.ok ? r.value : undefined)),
            Array.from({ length: 25 }, (_, i) => i * 2),
        );
    });

    it("retries a throttled call with growing jittered waits, and gives other errors to the item", async () => {
        const waits: number[] = [];
        let calls = 0;
        const results = await runPool(
            ["a", "b"],
            async (x) => {
                if (x === "b") throw janitorError(ErrorNames.awsError, "denied");
                calls += 1;
                if (calls <= 3) throw throttled();
                return x;
            },
            {
                concurrency: 1,
                backoff: { baseMs: 100, capMs: 300 },
                random: () => 0.5,
                sleep: async (ms) => {
                    waits.push(ms);
                },
            },
        );
        assert.deepEqual(waits, [50, 100, 150]);
        assert.equal(calls, 4);
        assert.deepEqual(results[0], { ok: true, value: "a" });
        assert.equal(results[1].ok, false);
        assert.equal((results[1] as { error: Error }).error.message, "denied");
    });

    it("starts nothing new and stops waiting when time runs short, so the state retries the batch", async () => {
        let left = 100_000;
        const started: number[] = [];
        const run = runPool(
            [1, 2, 3, 4, 5],
            async (i) => {
                started.push(i);
                left -= 40_000;
                if (i === 2) throw throttled();
                return i;
            },
            { concurrency: 1, reserveMs: 30_000, timeLeftMs: () => left, sleep: async () => {} },
        );
        await assert.rejects(run, (err: Error) => {
            assert.ok(err instanceof Error);
            assert.equal(err.name, ErrorNames.outOfTime);
            assert.equal(
                err.message,
                "time ran short after 1 of 5 items; the state retries the batch and skips finished ones",
            );
            return true;
        });
        assert.deepEqual(started, [1, 2]);
    });
});
