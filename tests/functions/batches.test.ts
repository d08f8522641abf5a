// Batch steps over a stubbed EC2: the re-check before deleting, exact calls, one record per AMI, compact summaries.
import * as assert from "node:assert/strict";
import {
    CreateTagsCommand,
    DeleteSnapshotCommand,
    DeregisterImageCommand,
    DescribeImageAttributeCommand,
    DescribeImagesCommand,
    DescribeSnapshotsCommand,
    EC2Client,
    type Image,
} from "@aws-sdk/client-ec2";
import {
    type DeregisteredImage,
    deleteBatchSnapshots,
    deregisterBatch,
    type ImageRecord,
    summarizeBatch,
} from "../../functions/core/ami/batches";
import { settingsWith } from "../../functions/core/ami/settings";
import { awsError, useClientMock } from "../helpers";

const POOL = { concurrency: 3 };
const ref = (n: number, snaps = 1) => ({
    imageId: `ami-${String(n).padStart(3, "0")}`,
    snapshotIds: Array.from({ length: snaps }, (_, s) => `snap-${n}${"abc"[s]}`),
});
/** The AMI as DescribeImages describes it now: with the one snapshot `ref` gives it. */
const current = (imageId: string, extra: Partial<Image> = {}): Image => ({
    ImageId: imageId,
    State: "available",
    BlockDeviceMappings: [
        { DeviceName: "/dev/xvda", Ebs: { SnapshotId: `snap-${Number(imageId.slice(4))}a` } },
    ],
    ...extra,
});

describe("batch steps", () => {
    const ec2 = useClientMock(EC2Client);

    describe("deregisterBatch", () => {
        const NOW = new Date("2026-11-22T12:00:00.000Z");
        const settings = settingsWith({ validHours: 1 });
        const run = (images: ReturnType<typeof ref>[], s = settings) =>
            deregisterBatch(new EC2Client({}), images, s, NOW, POOL);
        const shared = new Map<string, object[]>();
        beforeEach(() => {
            shared.clear();
            ec2().on(CreateTagsCommand).resolves({});
            ec2()
                .on(DescribeImageAttributeCommand)
                .callsFake((input) => ({
                    ImageId: input.ImageId,
                    LaunchPermissions: shared.get(input.ImageId) ?? [],
                }));
        });

        it("looks every AMI up again by id, then deregisters only those still there, deletable and not newly kept", async () => {
            const images = [ref(1), ref(2), ref(3), ref(4), ref(5), ref(6)];
            ec2()
                .on(DescribeImagesCommand)
                .resolves({
                    Images: [
                        current("ami-001"),
                        current("ami-003", { State: "pending" }),
                        current("ami-004", { Tags: [{ Key: "image-janitor:keep", Value: "yes" }] }),
                        current("ami-005", { Tags: [{ Key: "image-janitor:keep", Value: "False" }] }),
                        current("ami-006", { State: "disabled" }),
                    ],
                });
            ec2().on(DeregisterImageCommand).resolves({});
            ec2()
                .on(DeregisterImageCommand, { ImageId: "ami-001" })
                .resolves({ DeleteSnapshotResults: [{ SnapshotId: "snap-1a", ReturnCode: "success" }] });
            const out = await run(images);
            assert.deepEqual(
                ec2()
                    .commandCalls(DescribeImagesCommand)
                    .map((c) => c.args[0].input),
                [
                    {
                        ImageIds: ["ami-001", "ami-002", "ami-003", "ami-004", "ami-005", "ami-006"],
                        Owners: ["self"],
                        IncludeDisabled: true,
                    },
                ],
            );
            assert.deepEqual(
                ec2()
                    .commandCalls(DeregisterImageCommand)
                    .map((c) => c.args[0].input),
                [
                    { ImageId: "ami-001", DryRun: false, DeleteAssociatedSnapshots: true },
                    { ImageId: "ami-005", DryRun: false, DeleteAssociatedSnapshots: true },
                    { ImageId: "ami-006", DryRun: false, DeleteAssociatedSnapshots: true },
                ],
            );
            assert.deepEqual(out, [
                { ...ref(1), outcome: "deregistered", deletedWithImage: ["snap-1a"] },
                { ...ref(2), outcome: "already-gone" },
                { ...ref(3), outcome: "kept", reason: "state:pending" },
                { ...ref(4), outcome: "kept", reason: "keep-tag" },
                { ...ref(5), outcome: "deregistered" },
                { ...ref(6), outcome: "deregistered" },
            ]);
        });

        it("takes the ids EC2 says are gone out of the lookup and asks again (EC2 fails the whole call for one)", async () => {
            ec2()
                .on(DescribeImagesCommand)
                .rejectsOnce(
                    awsError("InvalidAMIID.NotFound", "The image id '[ami-002, ami-003]' does not exist"),
                )
                .resolves({ Images: [current("ami-001")] });
            ec2().on(DeregisterImageCommand).resolves({});
            const out = await run([ref(1), ref(2), ref(3)]);
            assert.deepEqual(
                ec2()
                    .commandCalls(DescribeImagesCommand)
                    .map((c) => c.args[0].input.ImageIds),
                [["ami-001", "ami-002", "ami-003"], ["ami-001"]],
            );
            assert.deepEqual(
                out.map((o) => o.outcome),
                ["deregistered", "already-gone", "already-gone"],
            );
        });

        it("asks for at most 200 ids per lookup", async () => {
            const images = Array.from({ length: 250 }, (_, i) => ref(i));
            ec2().on(DescribeImagesCommand).resolves({ Images: [] });
            await run(images);
            assert.deepEqual(
                ec2()
                    .commandCalls(DescribeImagesCommand)
                    .map((c) => c.args[0].input.ImageIds?.length),
                [200, 50],
            );
            assert.equal(ec2().commandCalls(DeregisterImageCommand).length, 0);
        });

        it("keeps what the AMI's own description protects now: deregistration protection, public, launched recently", async () => {
            ec2()
                .on(DescribeImagesCommand)
                .resolves({
                    Images: [
                        current("ami-001", { DeregistrationProtection: "enabled-with-cooldown" }),
                        current("ami-002", { DeregistrationProtection: "disabled", Public: true }),
                        current("ami-003", { LastLaunchedTime: "2026-11-20T12:00:00.000Z" }),
                        current("ami-004", { LastLaunchedTime: "2026-10-20T12:00:00.000Z" }),
                    ],
                });
            ec2().on(DeregisterImageCommand).resolves({});
            const out = await run(
                [ref(1), ref(2), ref(3), ref(4)],
                settingsWith({ validHours: 1, keepLaunchedWithinDays: 7 }),
            );
            assert.deepEqual(
                out.map((o) => [o.outcome, o.reason]),
                [
                    ["kept", "deregistration-protection"],
                    ["kept", "public"],
                    ["kept", "launched-recently 2026-11-20T12:00:00.000Z"],
                    ["deregistered", undefined],
                ],
            );
        });

        it("looks up launch permissions for the AMIs about to go only, and keeps those shared", async () => {
            shared.set("ami-002", [{ UserId: "210987654321" }]);
            shared.set("ami-003", [
                { OrganizationArn: "arn:aws:organizations::123456789012:organization/o-abc" },
            ]);
            shared.set("ami-004", [
                { OrganizationalUnitArn: "arn:aws:organizations::123456789012:ou/o-abc/ou-1" },
            ]);
            ec2()
                .on(DescribeImagesCommand)
                .resolves({
                    Images: [1, 2, 3, 4]
                        .map((n) => current(`ami-00${n}`))
                        .concat(current("ami-005", { Public: true })),
                });
            ec2().on(DeregisterImageCommand).resolves({});
            const out = await run([ref(1), ref(2), ref(3), ref(4), ref(5)]);
            assert.deepEqual(
                out.map((o) => [o.outcome, o.reason]),
                [
                    ["deregistered", undefined],
                    ["kept", "shared:account 210987654321"],
                    ["kept", "shared:organization arn:aws:organizations::123456789012:organization/o-abc"],
                    ["kept", "shared:organizational-unit arn:aws:organizations::123456789012:ou/o-abc/ou-1"],
                    ["kept", "public"],
                ],
            );
            assert.deepEqual(
                ec2()
                    .commandCalls(DescribeImageAttributeCommand)
                    .map((c) => c.args[0].input),
                [1, 2, 3, 4].map((n) => ({ ImageId: `ami-00${n}`, Attribute: "launchPermission" })),
                "one lookup per AMI about to go; the public one is kept before",
            );
            const off = await run([ref(2)], settingsWith({ validHours: 1, keepShared: false }));
            assert.deepEqual(
                off.map((o) => o.outcome),
                ["deregistered"],
            );
        });

        it("keeps, not fails, an AMI whose deregistration protection came on after the re-check", async () => {
            ec2()
                .on(DescribeImagesCommand)
                .resolvesOnce({ Images: [current("ami-001")] })
                .resolves({ Images: [current("ami-001", { DeregistrationProtection: "enabled" })] });
            // EC2 documents no error code for this; the cleanup does not rely on one, it looks again.
            ec2().on(DeregisterImageCommand).rejects(awsError("InvalidParameterValue", "protected"));
            const out = await run([ref(1)]);
            assert.deepEqual(out, [{ ...ref(1), outcome: "kept", reason: "deregistration-protection" }]);
        });

        it("records an AMI whose deregistration fails and goes on with the others", async () => {
            ec2()
                .on(DescribeImagesCommand)
                .resolves({ Images: [current("ami-001"), current("ami-002")] });
            ec2().on(DeregisterImageCommand).resolves({});
            ec2()
                .on(DeregisterImageCommand, { ImageId: "ami-001" })
                .rejects(awsError("UnauthorizedOperation", "denied"));
            const out = await run([ref(1), ref(2)]);
            assert.deepEqual(out, [
                {
                    ...ref(1),
                    outcome: "failed",
                    error: "ImageJanitor.AccessDenied: ami-001: DeregisterImage failed: UnauthorizedOperation: denied",
                },
                { ...ref(2), outcome: "deregistered" },
            ]);
        });
    });

    describe("deleteBatchSnapshots", () => {
        const deregistered = (n: number, extra: Partial<DeregisteredImage> = {}): DeregisteredImage => ({
            ...ref(n, 2),
            outcome: "deregistered",
            ...extra,
        });

        it("deletes directly what EC2 neither deleted with the image nor kept for another AMI, and looks nothing up", async () => {
            ec2().on(DeleteSnapshotCommand).resolves({});
            ec2()
                .on(DeleteSnapshotCommand, { SnapshotId: "snap-5b" })
                .rejects(awsError("InvalidSnapshot.NotFound", "The snapshot 'snap-5b' does not exist."));
            const { images: records } = await deleteBatchSnapshots(
                new EC2Client({}),
                [
                    deregistered(1, { deletedWithImage: ["snap-1a"] }),
                    deregistered(2, { outcome: "already-gone" }),
                    deregistered(3, { outcome: "kept", reason: "keep-tag" }),
                    deregistered(4, { outcome: "failed", error: "boom" }),
                    deregistered(5, { usedByOthers: ["snap-5a"] }),
                ],
                false,
                POOL,
            );
            assert.equal(ec2().commandCalls(DescribeSnapshotsCommand).length, 0, "the answer already said");
            assert.deepEqual(
                ec2()
                    .commandCalls(DeleteSnapshotCommand)
                    .map((c) => c.args[0].input),
                [
                    { SnapshotId: "snap-1b", DryRun: false },
                    { SnapshotId: "snap-5b", DryRun: false },
                ],
                "an AMI someone else deregistered keeps its snapshots: it may have kept them on purpose",
            );
            const empty = { alreadyGone: [], skippedSnapshots: [] };
            assert.deepEqual(records, [
                { imageId: "ami-001", status: "deleted", snapshotIds: ["snap-1a", "snap-1b"], ...empty },
                {
                    imageId: "ami-002",
                    status: "already-gone",
                    snapshotIds: [],
                    leftSnapshots: ["snap-2a", "snap-2b"],
                    ...empty,
                },
                { imageId: "ami-003", status: "kept", snapshotIds: [], reason: "keep-tag", ...empty },
                { imageId: "ami-004", status: "failed", snapshotIds: [], error: "boom", ...empty },
                {
                    imageId: "ami-005",
                    status: "deleted",
                    snapshotIds: [],
                    alreadyGone: ["snap-5b"],
                    skippedSnapshots: [{ snapshotId: "snap-5a", reason: "in-use:other-image" }],
                },
            ]);
        });

        it("counts a snapshot found gone after its own call's answer was lost as deleted, not already gone", async () => {
            // The first call is carried out but its answer never arrives (a reset); the retry finds it gone.
            ec2()
                .on(DeleteSnapshotCommand)
                .rejectsOnce(
                    Object.assign(awsError("TimeoutError", "socket hang up"), { code: "ECONNRESET" }),
                )
                .rejects(awsError("InvalidSnapshot.NotFound", "The snapshot 'snap-1a' does not exist."));
            const { images: records } = await deleteBatchSnapshots(
                new EC2Client({}),
                [{ ...ref(1), outcome: "deregistered" }],
                false,
                { ...POOL, backoff: { baseMs: 1, capMs: 1 } },
            );
            assert.deepEqual(
                [records[0].status, records[0].snapshotIds, records[0].alreadyGone],
                ["deleted", ["snap-1a"], []],
            );
        });

        it("deletes the unfinished and orphaned snapshots a batch carries, keeping one an AMI uses again", async () => {
            ec2().on(DeleteSnapshotCommand).resolves({});
            ec2()
                .on(DeleteSnapshotCommand, { SnapshotId: "snap-b" })
                .rejects(
                    awsError("InvalidSnapshot.InUse", "The snapshot snap-b is currently in use by ami-0ff"),
                );
            const result = await deleteBatchSnapshots(new EC2Client({}), [], false, POOL, undefined, [
                { snapshotId: "snap-a", reason: "unfinished" },
                { snapshotId: "snap-b", reason: "orphan of ami-0aa" },
            ]);
            assert.deepEqual(result.snapshots, [
                { snapshotId: "snap-a", reason: "unfinished", status: "deleted" },
                {
                    snapshotId: "snap-b",
                    reason: "orphan of ami-0aa",
                    status: "kept",
                    detail: "in-use:image ami-0ff",
                },
            ]);
        });

        it("in a dry run asks EC2 with DryRun for every snapshot and looks nothing up", async () => {
            ec2().on(DeleteSnapshotCommand).rejects(awsError("DryRunOperation"));
            const { images: records } = await deleteBatchSnapshots(
                new EC2Client({}),
                [deregistered(1, { outcome: "dry-run" })],
                true,
                POOL,
            );
            assert.equal(ec2().commandCalls(DescribeSnapshotsCommand).length, 0);
            assert.deepEqual(
                ec2()
                    .commandCalls(DeleteSnapshotCommand)
                    .map((c) => c.args[0].input),
                [
                    { SnapshotId: "snap-1a", DryRun: true },
                    { SnapshotId: "snap-1b", DryRun: true },
                ],
            );
            assert.deepEqual(records[0].status, "would-delete");
            assert.deepEqual(records[0].snapshotIds, ["snap-1a", "snap-1b"]);
        });

        it("waits for a just-deregistered AMI to release its snapshot, then deletes it", async () => {
            ec2().on(DeleteSnapshotCommand).resolves({});
            ec2()
                .on(DeleteSnapshotCommand, { SnapshotId: "snap-1a" })
                .rejectsOnce(
                    awsError("InvalidSnapshot.InUse", "The snapshot snap-1a is currently in use by ami-001"),
                )
                .resolves({});
            const waits: number[] = [];
            const { images: records } = await deleteBatchSnapshots(
                new EC2Client({}),
                [deregistered(1)],
                false,
                {
                    ...POOL,
                    sleep: async (ms) => {
                        waits.push(ms);
                    },
                },
            );
            assert.deepEqual(waits, [1000]);
            assert.equal(records[0].status, "deleted");
            assert.deepEqual([...records[0].snapshotIds].sort(), ["snap-1a", "snap-1b"]);
        });
    });

    it("summarizes a batch with complete counts and at most ten named failures, each error cut to 300 characters", () => {
        const records: ImageRecord[] = Array.from({ length: 30 }, (_, i) => ({
            imageId: `ami-${i}`,
            status: i < 12 ? "failed" : i < 14 ? "kept" : "deleted",
            snapshotIds: i < 14 ? [] : [`snap-${i}`],
            alreadyGone: [],
            skippedSnapshots: i === 20 ? [{ snapshotId: "snap-x", reason: "in-use:image ami-9" }] : [],
            ...(i < 12 ? { error: "e".repeat(500) } : {}),
            ...(i >= 12 && i < 14 ? { reason: "keep-tag" } : {}),
            // Only what is deleted counts towards the GiB and the Recycle Bin's GiB-days: 14 + 15 + … + 29.
            sizeGiB: i,
        }));
        const s = summarizeBatch(records, [], 7);
        assert.deepEqual(
            { ...s, failures: s.failures.length, keptImages: s.keptImages },
            {
                status: "failed",
                images: 30,
                deleted: 16,
                wouldDelete: 0,
                disabled: 0,
                wouldDisable: 0,
                alreadyGone: 0,
                kept: 2,
                failed: 12,
                snapshotsDeleted: 16,
                snapshotsSkipped: 1,
                strayDeleted: 0,
                strayFailed: 0,
                deletedGiB: 344,
                retainedGiBDays: 344 * 7,
                failures: 10,
                keptImages: [
                    { imageId: "ami-12", reason: "keep-tag" },
                    { imageId: "ami-13", reason: "keep-tag" },
                ],
            },
        );
        assert.deepEqual(s.failures[0], { id: "ami-0", error: "e".repeat(300) });
        assert.equal(summarizeBatch(records.slice(14)).status, "ok");
        // Strays deleted count towards the GiB too; a failed one does not.
        const strays = [
            { snapshotId: "snap-u", reason: "unfinished", sizeGiB: 5, status: "deleted" as const },
            { snapshotId: "snap-o", reason: "orphan of ami-9", sizeGiB: 9, status: "failed" as const },
        ];
        const straysOnly = summarizeBatch([], strays, 2);
        assert.deepEqual([straysOnly.deletedGiB, straysOnly.retainedGiBDays], [5, 10]);
    });
});
