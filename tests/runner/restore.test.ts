// The way back, end to end on the in-process EC2, whose Recycle Bin follows the EC2 user guide ("Recover deleted
// Amazon EBS snapshots and EBS-backed AMIs with Recycle Bin"): only deletions that carried a rule's tag are
// retained; an AMI is restored only after its snapshots, once they have left `recovering`; retention ends; tags
// of what is in the bin can be read. The rules are the program's own (components/recycleBin.ts).
import * as assert from "node:assert/strict";
import { join } from "node:path";
import {
    EC2Client,
    EnableImageCommand,
    type Image,
    RestoreImageFromRecycleBinCommand,
} from "@aws-sdk/client-ec2";
import { RECYCLE_BIN_RESOURCES, recycleBinRuleArgs } from "../../components/recycleBin";
import { restoreDeletions } from "../../functions/core/ami/restore";
import { settingsWith } from "../../functions/core/ami/settings";
import { ErrorNames } from "../../functions/core/shared/errors";
import { parseRestoreCli, renderRestore } from "../../runner/restore";
import { runCleanup } from "../../runner/run";
import { appImage, type FakeEc2, installFakeEc2 } from "../fakeEc2";
import { awsError, mockedClients, runNode, useClientMock, useLookupMocks } from "../helpers";

const T0 = new Date("2026-11-22T12:00:00.000Z");
const hours = (n: number) => new Date(T0.getTime() + n * 3_600_000);
const image = (n: number, extra: Partial<Image> = {}) => appImage(n, [8, 30], extra);
/** Registers an AMI and its snapshots, as CreateImage leaves them. */
const register = (fake: FakeEc2, i: Image) => {
    fake.images.set(i.ImageId ?? "", i);
    for (const m of i.BlockDeviceMappings ?? [])
        fake.snapshots.set(m.Ebs?.SnapshotId ?? "", {
            SnapshotId: m.Ebs?.SnapshotId,
            VolumeSize: m.Ebs?.VolumeSize,
            State: "completed",
            Tags: [],
        });
};
const tagKeys = (t?: { Key?: string }[]) => (t ?? []).map((x) => x.Key).sort();

describe("restore from the Recycle Bin, end to end", () => {
    const ec2 = useClientMock(EC2Client);
    useLookupMocks(ec2);
    let fake: FakeEc2;
    const withRules = (days: number) => {
        for (const key of ["images", "snapshots"] as const) {
            const r = recycleBinRuleArgs(key, days);
            fake.rules.push({
                resourceType: RECYCLE_BIN_RESOURCES[key],
                tags: r.resourceTags.map((t) => ({ key: t.resourceTagKey, value: t.resourceTagValue })),
                retentionDays: r.retentionPeriod.retentionPeriodValue,
            });
        }
    };
    const cleanup = (changes = {}) =>
        runCleanup({
            clients: mockedClients(),
            now: () => fake.now(),
            retryIntervalMs: 0,
            backoff: { baseMs: 1, capMs: 1 },
            settings: settingsWith({ validHours: 24, protectInUse: false, recycleBinDays: 7, ...changes }),
        });
    const restore = (opts: Partial<Parameters<typeof restoreDeletions>[1]> = {}) =>
        restoreDeletions(new EC2Client({}), { dryRun: false, now: fake.now(), pollMs: 0, ...opts });

    it("disable, wait, delete, restore: the same AMI id comes back, enabled, with its snapshots, and is kept", async () => {
        fake = installFakeEc2(ec2(), [image(1), image(2)], T0);
        withRules(7);
        await cleanup({ disableForHours: 48 });
        fake.setNow(hours(48));
        const deleted = await cleanup({ disableForHours: 48 });
        assert.deepEqual(
            deleted.deleted.map((d) => d.imageId),
            ["ami-01", "ami-02"],
        );
        // 2 × (8 + 30) GiB, kept 7 days.
        assert.deepEqual(deleted.retention, { recycleBinDays: 7, retainedGiB: 76, gibDays: 532 });
        assert.deepEqual(
            [[...fake.bin.images.keys()], [...fake.bin.snapshots.keys()].sort()],
            [
                ["ami-01", "ami-02"],
                ["snap-01a", "snap-01b", "snap-02a", "snap-02b"],
            ],
        );

        fake.setNow(hours(50));
        const dry = await restore({ imageIds: ["ami-01"], dryRun: true });
        assert.deepEqual(dry, [
            {
                imageId: "ami-01",
                status: "would-restore",
                snapshotIds: ["snap-01a", "snap-01b"],
                deletedAt: hours(48).toISOString(),
                binExitsAt: hours(48 + 7 * 24).toISOString(),
            },
        ]);
        assert.ok(fake.bin.images.has("ami-01"), "a dry run restores nothing");

        const back = await restore({ imageIds: ["ami-01"] });
        assert.deepEqual(
            back.map((r) => [r.imageId, r.status, r.snapshotIds, r.reEnabled]),
            [["ami-01", "restored", ["snap-01a", "snap-01b"], true]],
        );
        const ami = fake.images.get("ami-01");
        assert.equal(ami?.State, "available", "enabled again: the cleanup had disabled it");
        assert.deepEqual(tagKeys(ami?.Tags), ["image-janitor:restored-at"]);
        for (const s of ["snap-01a", "snap-01b"]) {
            assert.equal(fake.snapshots.get(s)?.State, "completed");
            // Used by the AMI again: no tag of the cleanup's left on them.
            assert.deepEqual(tagKeys(fake.snapshots.get(s)?.Tags), []);
        }
        // Idempotent: asked again, it says so.
        assert.deepEqual(
            (await restore({ imageIds: ["ami-01"] })).map((r) => [r.status, r.detail]),
            [["already-restored", `restored at ${hours(50).toISOString()}`]],
        );
        // Every later cleanup keeps it, and its snapshots with it.
        for (const at of [51, 500]) {
            fake.setNow(hours(at));
            const later = await cleanup({ disableForHours: 48 });
            assert.deepEqual(later.skipped, [{ imageId: "ami-01", reason: "restored" }]);
            assert.deepEqual(later.strays, []);
        }
        assert.ok(fake.snapshots.has("snap-01a") && fake.snapshots.has("snap-01b"));
    });

    it("--deleted-within takes the cleanup's deletions in the window only, and not someone else's", async () => {
        fake = installFakeEc2(ec2(), [image(1), image(2), image(3)], T0);
        withRules(7);
        // Someone else's deletion, kept by an account-wide rule of theirs.
        fake.rules.push({
            resourceType: "EC2_IMAGE",
            tags: [{ key: "team", value: "x" }],
            retentionDays: 30,
        });
        fake.images.set("ami-03", {
            ...(fake.images.get("ami-03") as Image),
            Tags: [{ Key: "team", Value: "x" }],
        });
        fake.deregister({ ImageId: "ami-03" });
        await cleanup();
        fake.setNow(hours(30));
        fake.images.set("ami-04", { ...image(4), CreationDate: T0.toISOString() });
        fake.snapshots.set("snap-04a", {
            SnapshotId: "snap-04a",
            State: "completed",
            VolumeSize: 8,
            Tags: [],
        });
        fake.snapshots.set("snap-04b", {
            SnapshotId: "snap-04b",
            State: "completed",
            VolumeSize: 8,
            Tags: [],
        });
        await cleanup();
        assert.deepEqual([...fake.bin.images.keys()].sort(), ["ami-01", "ami-02", "ami-03", "ami-04"]);

        fake.setNow(hours(31));
        const recent = await restore({ deletedWithinHours: 2 });
        assert.deepEqual(
            recent.map((r) => [r.imageId, r.status]),
            [["ami-04", "restored"]],
        );
        const all = await restore({ deletedWithinHours: 48 });
        assert.deepEqual(all.map((r) => [r.imageId, r.status]).sort(), [
            ["ami-01", "restored"],
            ["ami-02", "restored"],
            ["ami-03", "not-ours"],
            ["ami-04", "already-restored"],
        ]);
        assert.ok(fake.bin.images.has("ami-03"), "someone else's deletion stays in the bin");
        assert.match(
            renderRestore(all, { dryRun: false }),
            /restored 2, already restored 1, .*not the cleanup's 1/,
        );
    });

    it("says why what it cannot restore stays gone: no rule, retention over, never deleted", async () => {
        fake = installFakeEc2(ec2(), [image(1), image(2), image(3)], T0);
        await cleanup({ recycleBinDays: 0 }); // no rules: ami-01…03 gone for good
        assert.deepEqual(fake.bin.images.size, 0);
        withRules(1);
        register(fake, image(6));
        register(fake, { ...image(5), CreationDate: hours(0).toISOString() }); // young: never deleted
        await cleanup({ recycleBinDays: 1 });
        fake.setNow(hours(25)); // ami-06's retention of 1 day is over
        const records = await restore({ imageIds: ["ami-01", "ami-06", "ami-05"] });
        assert.deepEqual(
            records.map((r) => [r.imageId, r.status]),
            [
                ["ami-01", "not-in-bin"],
                ["ami-06", "not-in-bin"],
                ["ami-05", "not-deleted"],
            ],
        );
        assert.match(records[0].detail ?? "", /deleted without a retention rule, or its retention ended/);
    });

    it("finishes a restore cut after the snapshots: the next run restores the AMI, and the cleanup takes nothing meanwhile", async () => {
        fake = installFakeEc2(ec2(), [image(1)], T0);
        withRules(7);
        await cleanup();
        ec2()
            .on(RestoreImageFromRecycleBinCommand)
            .rejectsOnce(awsError("InternalError", "An internal error has occurred"));
        const cut = await restore({ imageIds: ["ami-01"] });
        assert.deepEqual(
            cut.map((r) => r.status),
            ["failed"],
        );
        assert.deepEqual([...fake.snapshots.keys()].sort(), ["snap-01a", "snap-01b"]);
        // An hourly cleanup now: the restored snapshots are neither unfinished deletions nor orphans.
        fake.setNow(hours(1));
        const between = await cleanup({ sweepOrphanSnapshots: true });
        assert.deepEqual([between.strays, fake.snapshots.size], [[], 2]);
        installFakeEc2Restore();
        const next = await restore({ imageIds: ["ami-01"] });
        assert.deepEqual(
            next.map((r) => [r.status, r.snapshotIds]),
            [["restored", ["snap-01a", "snap-01b"]]],
        );
        assert.ok(fake.images.has("ami-01"));
    });

    it("finishes a restore cut after the AMI is back: kept by the cleanup meanwhile, tags and EnableImage done by the next run", async () => {
        fake = installFakeEc2(ec2(), [image(1)], T0);
        withRules(7);
        await cleanup({ disableForHours: 1 });
        fake.setNow(hours(2));
        await cleanup({ disableForHours: 1 });
        assert.ok(fake.bin.images.has("ami-01"));
        // EnableImage refused once: the AMI is registered again, disabled, still carrying the cleanup's tags.
        ec2().on(EnableImageCommand).rejectsOnce(awsError("InternalError", "An internal error has occurred"));
        const cut = await restore({ imageIds: ["ami-01"] });
        assert.deepEqual(
            cut.map((r) => r.status),
            ["failed"],
        );
        assert.deepEqual(tagKeys(fake.images.get("ami-01")?.Tags), [
            "image-janitor:deleting",
            "image-janitor:disabled-at",
            "image-janitor:image-id",
            "image-janitor:restored-at",
        ]);
        // Marked restored before it was registered: the hourly cleanup keeps it.
        fake.setNow(hours(3));
        const between = await cleanup({ disableForHours: 1 });
        assert.deepEqual(
            [between.skipped, between.deleted, between.strays],
            [[{ imageId: "ami-01", reason: "restored" }], [], []],
        );
        installFakeEc2Restore();
        const next = await restore({ imageIds: ["ami-01"] });
        assert.deepEqual(
            next.map((r) => [r.status, r.snapshotIds, r.reEnabled]),
            [["restored", ["snap-01a", "snap-01b"], true]],
        );
        assert.match(next[0].detail ?? "", /cut short; finished now/);
        assert.equal(fake.images.get("ami-01")?.State, "available");
        assert.deepEqual(tagKeys(fake.images.get("ami-01")?.Tags), ["image-janitor:restored-at"]);
        assert.deepEqual(
            (await restore({ imageIds: ["ami-01"] })).map((r) => r.status),
            ["already-restored"],
        );
    });

    it("keeps what the orphan sweep deletes in the bin too, and asks the bin id by id where it refuses unknown ids", async () => {
        fake = installFakeEc2(ec2(), [image(1)], T0);
        withRules(7);
        fake.deregister({ ImageId: "ami-01" }); // by someone else, without a rule of theirs: its snapshots are orphans
        await cleanup({ sweepOrphanSnapshots: true });
        assert.deepEqual([...fake.bin.snapshots.keys()].sort(), ["snap-01a", "snap-01b"]);
        // If ListImagesInRecycleBin refuses a call naming an id it does not hold (undocumented either way).
        fake.binListRefusesUnknownIds = true;
        const records = await restore({ imageIds: ["ami-01", "ami-09"] });
        assert.deepEqual(
            records.map((r) => [r.imageId, r.status]),
            [
                ["ami-01", "not-in-bin"],
                ["ami-09", "not-in-bin"],
            ],
        );
    });

    function installFakeEc2Restore() {
        // The fake's own RestoreImageFromRecycleBin again, after the test's one failure.
        const snapshot = { images: fake.images, snapshots: fake.snapshots, bin: fake.bin, rules: fake.rules };
        fake = installFakeEc2(ec2(), [], fake.now());
        Object.assign(fake, snapshot);
    }

    it("reads its flags as the cleanup reads its own: either ids or a window, each checked by name", () => {
        assert.deepEqual(
            parseRestoreCli(["--image-id", "ami-01", "--image-id", "ami-02", "--image-id", "ami-01"]),
            {
                dryRun: false,
                json: false,
                verbose: false,
                help: false,
                imageIds: ["ami-01", "ami-02"],
                regions: [],
            },
        );
        assert.equal(parseRestoreCli(["--deleted-within", "24", "--dry-run"]).deletedWithinHours, 24);
        for (const [argv, message] of [
            [[], "give either --image-id (one or more) or --deleted-within <hours>, not both"],
            [["--image-id", "ami-01", "--deleted-within", "2"], "give either --image-id"],
            [
                ["--image-id", "snap-01"],
                '--image-id must be an AMI id like ami-0123456789abcdef0 (got "snap-01")',
            ],
            [["--deleted-within", "0"], '--deleted-within must be a whole number from 1 to 8760 (got "0")'],
            [
                ["--deleted-within", "2", "--deleted-within", "3"],
                "--deleted-within is given 2 times; give it once",
            ],
        ] as const) {
            assert.throws(
                () => parseRestoreCli([...argv]),
                (err: Error) => {
                    assert.equal(err.name, ErrorNames.invalidInput);
                    assert.ok(err.message.includes(message), err.message);
                    return true;
                },
            );
        }
    });

    it("runs as `npm run restore`: bad flags exit 2 with the usage, an endpoint it cannot reach exits 3 naming it", async function () {
        this.timeout(60_000);
        const cwd = join(__dirname, "..", "..");
        const run = (args: string[]) =>
            runNode(["scripts/run-built.js", "restore", ...args], {
                cwd,
                env: {
                    AWS_REGION: "eu-west-1",
                    AWS_ACCESS_KEY_ID: "test",
                    AWS_SECRET_ACCESS_KEY: "test",
                    AWS_ENDPOINT_URL: "http://127.0.0.1:9",
                    AWS_MAX_ATTEMPTS: "1",
                },
            });
        const bad = await run(["--deleted-within", "soon"]);
        assert.equal(bad.code, 2);
        assert.match(
            bad.stderr,
            /^error: --deleted-within must be a whole number from 1 to 8760 \(got "soon"\)\n\nusage: npm run restore/,
        );
        const down = await run(["--image-id", "ami-01", "--json"]);
        assert.equal(down.code, 3, down.stderr);
        const doc = JSON.parse(down.stdout);
        assert.equal(doc.region, "eu-west-1");
        assert.equal(doc.error.name, "ImageJanitor.Unreachable");
        assert.match(doc.error.message, /^cannot reach EC2 in eu-west-1 at http:\/\/127\.0\.0\.1:9: /);
    });
});
