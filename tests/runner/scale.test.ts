// Many AMIs through the deployed definition: pages hand over to fresh executions, every AMI is deleted exactly
// once, and no execution comes near Step Functions' payload or history limits. Overlapping runs do not both work.

import * as assert from "node:assert/strict";
import { DeregisterImageCommand, EC2Client } from "@aws-sdk/client-ec2";
import { settingsWith } from "../../functions/core/ami/settings";
import { runCleanup } from "../../runner/run";
import { SFN_LIMITS } from "../../runner/stats";
import { installFakeEc2, oldImages } from "../fakeEc2";
import { mockedClients, useClientMock, useLookupMocks } from "../helpers";

describe("local runner at scale", function () {
    this.timeout(120_000);
    const ec2 = useClientMock(EC2Client);
    useLookupMocks(ec2);

    it("clears a region's whole quota, 50,000 AMIs, over chained executions, each AMI once, within every limit", async () => {
        const images = oldImages(50_000);
        const fake = installFakeEc2(ec2(), images);
        const s = await runCleanup({
            clients: mockedClients(),
            retryIntervalMs: 0,
            settings: settingsWith({ validHours: 1, maxConcurrency: 10 }),
        });
        const ids = images.map((i) => i.ImageId);
        assert.deepEqual(s.failed, []);
        assert.deepEqual(
            s.deleted.map((d) => d.imageId),
            ids,
            "every AMI reported deleted once, in id order",
        );
        assert.deepEqual([...fake.deregistered].sort(), ids, "every AMI deregistered exactly once");
        assert.deepEqual([fake.images.size, fake.snapshots.size], [0, 0], "nothing left behind");
        assert.equal(
            new Set(fake.deletedSnapshots).size,
            fake.deletedSnapshots.length,
            "no snapshot deleted twice",
        );
        assert.ok(s.stats.executions >= 20, `${s.stats.executions} executions`);
        assert.ok(
            s.stats.maxStatePayloadBytes < SFN_LIMITS.payloadBytes,
            `payload ${s.stats.maxStatePayloadBytes}`,
        );
        assert.ok(s.stats.historyEvents < SFN_LIMITS.historyEvents / 20, `history ${s.stats.historyEvents}`);
        // Cost targets per 1,000 AMIs: at most 50 invocations and 300 transitions.
        assert.ok(s.stats.lambdaInvocations <= 50 * 50, `${s.stats.lambdaInvocations} invocations`);
        assert.ok(s.stats.stateTransitions <= 300 * 50, `${s.stats.stateTransitions} transitions`);
    });

    it("a run that starts while another is working skips its work and says so", async () => {
        const fake = installFakeEc2(ec2(), oldImages(150));
        // The first run stalls on its second batch's first AMI, as a long run would.
        let release: () => void = () => {};
        const stalled = new Promise<void>((r) => {
            release = r;
        });
        ec2()
            .on(DeregisterImageCommand, { ImageId: oldImages(101)[100].ImageId })
            .callsFake(async (input) => {
                await stalled;
                return fake.deregister(input);
            });
        const first = runCleanup({
            clients: mockedClients(),
            retryIntervalMs: 0,
            settings: settingsWith({ validHours: 1, maxConcurrency: 1, protectInUse: false }),
        });
        while (fake.deregistered.length < 100) await new Promise((r) => setTimeout(r, 10));
        const second = await runCleanup({
            clients: mockedClients(),
            retryIntervalMs: 0,
            settings: settingsWith({ validHours: 1 }),
        });
        assert.deepEqual(
            [second.overlapSkipped, second.deleted, second.failed, second.stats.lambdaInvocations],
            [true, [], [], 0],
        );
        release();
        const done = await first;
        assert.equal(done.deleted.length, 150);
        // Every AMI was deregistered once, by the first run, the stalled one last.
        assert.equal(fake.deregistered.length, 150);
        assert.equal(new Set(fake.deregistered).size, 150);
        assert.equal(fake.deregistered.at(-1), oldImages(101)[100].ImageId);
        assert.equal(done.overlapSkipped, undefined);
    });
});
