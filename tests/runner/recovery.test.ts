// Nothing half-done, through the runner on the in-process EC2: a deletion an earlier run started is finished by
// the next, a lost answer is settled as this run's own deletion, snapshots of an AMI someone else deregistered are
// left alone, and the opt-in orphan sweep deletes only what EC2 made for an AMI that is gone.
import * as assert from "node:assert/strict";
import { DeleteSnapshotCommand, DeregisterImageCommand, EC2Client, type Image } from "@aws-sdk/client-ec2";
import { settingsWith } from "../../functions/core/ami/settings";
import { runCleanup } from "../../runner/run";
import { appImage, type FakeEc2, installFakeEc2 } from "../fakeEc2";
import { awsError, mockedClients, useClientMock, useLookupMocks } from "../helpers";

const NOW = new Date("2026-11-22T12:00:00.000Z");
const image = (n: number, extra: Partial<Image> = {}) => appImage(n, [8, 8], extra);

/** Snapshots no registered AMI uses, that no AMI of the test's own will ever use again. */
const orphans = (fake: FakeEc2) => {
    const used = new Set(
        [...fake.images.values()].flatMap((i) => (i.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId)),
    );
    return [...fake.snapshots.keys()].filter((s) => !used.has(s));
};

describe("nothing half-done, through the runner", () => {
    const ec2 = useClientMock(EC2Client);
    useLookupMocks(ec2);
    const run = (changes = {}) =>
        runCleanup({
            clients: mockedClients(),
            now: () => NOW,
            retryIntervalMs: 0,
            backoff: { baseMs: 1, capMs: 1 },
            settings: settingsWith({ validHours: 24, protectInUse: false, ...changes }),
        });

    it("tags an AMI and its snapshots before deregistering it, so a later run finishes a deletion cut short", async () => {
        // EC2 leaving the snapshots (moto, older endpoints), and every DeleteSnapshot failing in the first run.
        const fake = installFakeEc2(ec2(), [image(1), image(2)], NOW);
        fake.honoursDeleteAssociatedSnapshots = false;
        let refused = true;
        ec2()
            .on(DeleteSnapshotCommand)
            .callsFake((input) => {
                if (refused) throw awsError("UnauthorizedOperation", "not yet");
                return fake.removeSnapshot(input);
            });
        const first = await run();
        assert.deepEqual(
            first.failed.map((f) => f.imageId),
            ["ami-01", "ami-02"],
        );
        assert.deepEqual([...fake.images.keys()], [], "both AMIs were deregistered");
        assert.deepEqual(orphans(fake).sort(), ["snap-01a", "snap-01b", "snap-02a", "snap-02b"]);
        // Each snapshot says which AMI it was deleted with: the Recycle Bin does not, and `npm run restore` needs it.
        for (const s of fake.snapshots.values())
            assert.deepEqual(s.Tags, [
                { Key: "image-janitor:deleting", Value: "true" },
                { Key: "image-janitor:image-id", Value: `ami-${s.SnapshotId?.slice(5, 7)}` },
            ]);

        refused = false;
        const second = await run();
        assert.deepEqual(
            second.strays.map((s) => [s.snapshotId, s.reason, s.status]).sort(),
            ["snap-01a", "snap-01b", "snap-02a", "snap-02b"].map((id) => [id, "unfinished", "deleted"]),
        );
        assert.deepEqual([...fake.snapshots.keys()], [], "0 orphans");
    });

    it("counts an AMI whose DeregisterImage answer was lost as deleted by this run, not as failed or gone", async () => {
        const fake = installFakeEc2(ec2(), [image(1), image(2)], NOW);
        ec2()
            .on(DeregisterImageCommand, { ImageId: "ami-01" })
            .callsFakeOnce((input) => {
                fake.deregister(input); // carried out...
                throw Object.assign(awsError("TimeoutError", "socket hang up"), { code: "ECONNRESET" }); // ...answer lost
            })
            .callsFake((input) => fake.deregister(input));
        const s = await run();
        assert.deepEqual(
            [s.deleted.map((d) => d.imageId), s.alreadyGone, s.failed],
            [["ami-01", "ami-02"], [], []],
        );
        assert.equal(
            s.expired.length,
            s.deleted.length + s.alreadyGone.length + s.skipped.length + s.failed.length,
        );
    });

    it("leaves alone, and reports, the snapshots of an AMI someone else deregistered; only the sweep takes orphans", async () => {
        // ami-01 was registered from a snapshot EC2 made for ami-08, long gone: in use, so never an orphan.
        const one = image(1, { Tags: [{ Key: "image-janitor:keep", Value: "true" }] });
        one.BlockDeviceMappings?.push({ DeviceName: "/dev/xvdc", Ebs: { SnapshotId: "snap-08a" } });
        const fake = installFakeEc2(ec2(), [one], NOW);
        fake.snapshots.set("snap-08a", {
            SnapshotId: "snap-08a",
            Description: "Created by CreateImage(i-0123456789abcdef0) for ami-08",
            StartTime: new Date("2026-01-01T00:00:00.000Z"),
            State: "completed",
            Tags: [],
        });
        // Someone else's deregistered AMI left two snapshots, EC2-made for it, and months old; and one young.
        const old = new Date("2026-06-01T00:00:00.000Z");
        const snap = (
            id: string,
            description: string,
            start = old,
            tags: { Key: string; Value: string }[] = [],
        ) =>
            fake.snapshots.set(id, {
                SnapshotId: id,
                Description: description,
                VolumeSize: 8,
                StartTime: start,
                State: "completed",
                Tags: tags,
            });
        snap("snap-09a", "Created by CreateImage(i-0123456789abcdef0) for ami-09");
        snap("snap-09b", "Created by CreateImage(i-0123456789abcdef0) for ami-09", old, [
            { Key: "image-janitor:keep", Value: "yes" },
        ]);
        snap(
            "snap-09c",
            "Created by CreateImage(i-0123456789abcdef0) for ami-09",
            new Date("2026-11-22T00:00:00.000Z"),
        );
        snap("snap-0ff", "a volume's backup, made by hand");
        // ami-01 still uses its snapshots: never an orphan.
        snap("snap-01a", "Created by CreateImage(i-0123456789abcdef0) for ami-01");

        const plain = await run({ dryRun: true });
        assert.deepEqual(plain.strays, [], "without the sweep, nothing that is not the cleanup's own");

        const dry = await run({ dryRun: true, sweepOrphanSnapshots: true });
        assert.deepEqual(dry.strays, [
            { snapshotId: "snap-09a", reason: "orphan of ami-09", sizeGiB: 8, status: "would-delete" },
        ]);
        assert.ok(fake.snapshots.has("snap-09a"), "a dry run deletes nothing");

        const swept = await run({ sweepOrphanSnapshots: true });
        assert.deepEqual(swept.strays, [
            { snapshotId: "snap-09a", reason: "orphan of ami-09", sizeGiB: 8, status: "deleted" },
        ]);
        assert.deepEqual([...fake.snapshots.keys()].sort(), [
            "snap-01a",
            "snap-01b",
            "snap-08a",
            "snap-09b",
            "snap-09c",
            "snap-0ff",
        ]);
    });
});
