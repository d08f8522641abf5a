// The AMI cleanup core against aws-sdk-client-mock: pages, ages, mappings, gone resources and surfacing errors.
import * as assert from "node:assert/strict";
import {
    DeleteSnapshotCommand,
    DeregisterImageCommand,
    DescribeImagesCommand,
    EC2Client,
    type Image,
} from "@aws-sdk/client-ec2";
import { ageHours, isExpired } from "../../functions/core/ami/age";
import { deleteSnapshots, deregisterImage } from "../../functions/core/ami/deletion";
import { listExpiredImages } from "../../functions/core/ami/listing";
import { settingsWith } from "../../functions/core/ami/settings";
import { ErrorNames } from "../../functions/core/shared/errors";
import { awsError, mockedClients, useClientMock, useLookupMocks } from "../helpers";

const NOW = new Date("2026-11-22T12:00:00.000Z");
/** Guardrails off: these tests are about listing itself. */
const NO_GUARDRAILS = { keepLatest: 0, protectInUse: false };
const ago = (hours: number) => new Date(NOW.getTime() - hours * 3_600_000).toISOString();

function image(id: string, hours: number, extra: Partial<Image> = {}): Image {
    return {
        ImageId: id,
        Name: `name-${id}`,
        State: "available",
        CreationDate: ago(hours),
        BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: `snap-${id.slice(4)}` } }],
        ...extra,
    };
}

describe("AMI cleanup core", () => {
    // One mock per file, restored after it, so files do not steal each other's stubs.
    const ec2 = useClientMock(EC2Client);
    useLookupMocks(ec2);

    describe("AMI age", () => {
        it("counts whole days: 73 hours is 73, not the 1 that timedelta.seconds gave", () => {
            assert.equal(ageHours(ago(73), NOW), 73);
            assert.equal(ageHours(ago(24 * 30 + 5), NOW), 725);
        });

        it("is expired only when strictly older than validHours", () => {
            assert.equal(isExpired(ago(24), 24, NOW), false);
            assert.equal(
                isExpired(new Date(NOW.getTime() - 24 * 3_600_000 - 1).toISOString(), 24, NOW),
                true,
            );
            assert.equal(isExpired(ago(23.99), 24, NOW), false);
        });

        it("never expires an AMI whose creation date cannot be read", () => {
            assert.equal(isExpired("not a date", 1, NOW), false);
            assert.equal(isExpired("", 1, NOW), false);
        });
    });

    describe("listExpiredImages", () => {
        it("reads every DescribeImages page of the account's own AMIs, disabled ones included", async () => {
            // The SDK paginator reuses one input object, so each call's input is copied as it is sent.
            const pages = [
                { Images: [image("ami-01", 100), image("ami-02", 1)], NextToken: "t1" },
                { Images: [image("ami-03", 200)], NextToken: "t2" },
                { Images: [image("ami-04", 30)] },
            ];
            const inputs: unknown[] = [];
            ec2()
                .on(DescribeImagesCommand)
                .callsFake((input) => {
                    inputs.push(JSON.parse(JSON.stringify(input)));
                    return pages[inputs.length - 1];
                });
            const { images: items } = await listExpiredImages(
                mockedClients(),
                settingsWith({ ...NO_GUARDRAILS, validHours: 24 }),
                NOW,
            );
            assert.deepEqual(
                items.map((i) => i.imageId),
                ["ami-01", "ami-03", "ami-04"],
            );
            // An owner sees its deprecated AMIs without IncludeDeprecated; disabled ones only with IncludeDisabled
            // (DescribeImages reference).
            const base = { Owners: ["self"], IncludeDisabled: true, MaxResults: 1000 };
            assert.deepEqual(inputs, [base, { ...base, NextToken: "t1" }, { ...base, NextToken: "t2" }]);
        });

        it("counts an AMI that two DescribeImages pages both return once, so keepLatest keeps what it should", async () => {
            // EC2 does not promise that pages stay consistent while images change: an AMI may come twice.
            const group = (id: string, hours: number) => image(id, hours, { Name: "web-2026" });
            const pages = [
                { Images: [group("ami-01", 100), group("ami-02", 50)], NextToken: "t1" },
                { Images: [group("ami-02", 50), group("ami-03", 200)] },
            ];
            let call = 0;
            ec2()
                .on(DescribeImagesCommand)
                .callsFake(() => pages[call++]);
            const listing = await listExpiredImages(
                mockedClients(),
                settingsWith({ ...NO_GUARDRAILS, validHours: 24, keepLatest: 2 }),
                NOW,
            );
            assert.deepEqual(
                listing.images.map((i) => i.imageId),
                ["ami-03"],
                "the two newest (ami-02, ami-01) kept; ami-02 counted once",
            );
            assert.deepEqual(
                listing.expired.map((i) => i.imageId),
                ["ami-01", "ami-02", "ami-03"],
            );
        });

        it("returns compact items: id, name, creation date, EBS snapshot ids and their size only", async () => {
            ec2()
                .on(DescribeImagesCommand)
                .resolves({
                    Images: [
                        image("ami-0a", 50, {
                            Description: "x".repeat(1000),
                            BlockDeviceMappings: [
                                { DeviceName: "/dev/xvda", Ebs: { SnapshotId: "snap-root", VolumeSize: 8 } },
                                { DeviceName: "/dev/sdb", VirtualName: "ephemeral0" },
                                { DeviceName: "/dev/sdc", NoDevice: "" },
                                { DeviceName: "/dev/sdd", Ebs: { SnapshotId: "snap-data", VolumeSize: 100 } },
                                { DeviceName: "/dev/sde", Ebs: { VolumeSize: 10 } },
                            ],
                        }),
                    ],
                });
            const { images: items } = await listExpiredImages(
                mockedClients(),
                settingsWith({ ...NO_GUARDRAILS, validHours: 24 }),
                NOW,
            );
            assert.deepEqual(items, [
                {
                    imageId: "ami-0a",
                    name: "name-ami-0a",
                    creationDate: ago(50),
                    snapshotIds: ["snap-root", "snap-data"],
                    sizeGiB: 108,
                },
            ]);
        });

        it("estimates the GiB freed from the EBS snapshot mappings' volume sizes", async () => {
            ec2()
                .on(DescribeImagesCommand)
                .resolves({
                    Images: [
                        image("ami-0f", 50, {
                            BlockDeviceMappings: [
                                { DeviceName: "/dev/xvda", Ebs: { SnapshotId: "snap-r", VolumeSize: 8 } },
                                { DeviceName: "/dev/sdb", Ebs: { SnapshotId: "snap-d", VolumeSize: 100 } },
                                { DeviceName: "/dev/sdc", Ebs: { VolumeSize: 500 } },
                                { DeviceName: "/dev/sdd", VirtualName: "ephemeral0" },
                            ],
                        }),
                        image("ami-10", 1, {
                            BlockDeviceMappings: [
                                { DeviceName: "/dev/xvda", Ebs: { SnapshotId: "snap-y", VolumeSize: 30 } },
                            ],
                        }),
                    ],
                });
            const listing = await listExpiredImages(
                mockedClients(),
                settingsWith({ ...NO_GUARDRAILS, validHours: 24 }),
                NOW,
            );
            assert.equal(listing.estimatedGiB, 108);
        });

        it("reads instances and launch templates only when some AMI is expired", async () => {
            ec2()
                .on(DescribeImagesCommand)
                .resolves({ Images: [image("ami-11", 2)] });
            const listing = await listExpiredImages(
                mockedClients(),
                settingsWith({ ...NO_GUARDRAILS, protectInUse: true, validHours: 24 }),
                NOW,
            );
            assert.deepEqual(listing, { images: [], expired: [], skipped: [], estimatedGiB: 0, strays: [] });
            assert.deepEqual(
                ec2()
                    .calls()
                    .map((c) => c.args[0].constructor.name),
                ["DescribeImagesCommand", "DescribeSnapshotsCommand"],
                "the look for unfinished deletions is made every run",
            );
        });

        it("keeps instance-store AMIs listable with no snapshots instead of failing", async () => {
            ec2()
                .on(DescribeImagesCommand)
                .resolves({
                    Images: [
                        image("ami-0b", 50, {
                            BlockDeviceMappings: [{ DeviceName: "/dev/sda1", VirtualName: "ephemeral0" }],
                        }),
                    ],
                });
            const { images: items } = await listExpiredImages(
                mockedClients(),
                settingsWith({ ...NO_GUARDRAILS, validHours: 24 }),
                NOW,
            );
            assert.deepEqual(items[0].snapshotIds, []);
        });

        it("takes available, disabled and deprecated AMIs; never pending, failed, error, invalid or transient ones, nor unreadable dates", async () => {
            ec2()
                .on(DescribeImagesCommand)
                .resolves({
                    Images: [
                        ...["pending", "failed", "error", "invalid", "transient", "deregistered"].map(
                            (State, n) => image(`ami-0c${n}`, 50, { State: State as Image["State"] }),
                        ),
                        image("ami-0d", 50, { CreationDate: "garbage" }),
                        image("ami-0e", 50),
                        image("ami-0f", 50, { State: "disabled" }),
                        image("ami-10", 50, { DeprecationTime: "2026-11-01T00:00:00.000Z" }),
                    ],
                });
            const { images: items } = await listExpiredImages(
                mockedClients(),
                settingsWith({ ...NO_GUARDRAILS, validHours: 24 }),
                NOW,
            );
            assert.deepEqual(
                items.map((i) => i.imageId),
                ["ami-0e", "ami-0f", "ami-10"],
            );
        });

        it("surfaces a DescribeImages failure, naming the call and classed as access denied", async () => {
            ec2().on(DescribeImagesCommand).rejects(awsError("UnauthorizedOperation", "not allowed"));
            await assert.rejects(
                listExpiredImages(mockedClients(), settingsWith({ ...NO_GUARDRAILS, validHours: 24 }), NOW),
                {
                    name: ErrorNames.accessDenied,
                    message:
                        "listing the account's AMIs: DescribeImages failed: UnauthorizedOperation: not allowed",
                },
            );
        });
    });

    describe("deregisterImage", () => {
        const item = { imageId: "ami-0123", name: "web", creationDate: ago(50), snapshotIds: ["snap-1"] };

        it("deregisters the AMI by id", async () => {
            ec2().on(DeregisterImageCommand).resolves({});
            assert.deepEqual(await deregisterImage(new EC2Client({}), { ...item, dryRun: false }), {
                imageId: "ami-0123",
                outcome: "deregistered",
            });
            assert.deepEqual(
                ec2()
                    .commandCalls(DeregisterImageCommand)
                    .map((c) => c.args[0].input),
                [{ ImageId: "ami-0123", DryRun: false, DeleteAssociatedSnapshots: true }],
            );
        });

        it("falls back to deregistering alone where EC2 does not know DeleteAssociatedSnapshots", async () => {
            ec2()
                .on(DeregisterImageCommand)
                .rejectsOnce(
                    awsError("UnknownParameter", "The parameter DeleteAssociatedSnapshots is not recognized"),
                )
                .resolves({});
            const result = await deregisterImage(new EC2Client({}), { ...item, dryRun: false });
            assert.deepEqual(result, { imageId: "ami-0123", outcome: "deregistered" });
            assert.deepEqual(
                ec2()
                    .commandCalls(DeregisterImageCommand)
                    .map((c) => c.args[0].input),
                [
                    { ImageId: "ami-0123", DryRun: false, DeleteAssociatedSnapshots: true },
                    { ImageId: "ami-0123", DryRun: false },
                ],
            );
        });

        it("does not fall back on other parameter errors", async () => {
            ec2()
                .on(DeregisterImageCommand)
                .rejects(awsError("InvalidParameterValue", "Invalid id: ami-0123"));
            await assert.rejects(deregisterImage(new EC2Client({}), { ...item, dryRun: false }), {
                name: ErrorNames.awsError,
            });
            assert.equal(ec2().commandCalls(DeregisterImageCommand).length, 1);
        });

        for (const name of ["InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"]) {
            it(`counts ${name} as already done`, async () => {
                ec2().on(DeregisterImageCommand).rejects(awsError(name));
                assert.deepEqual(await deregisterImage(new EC2Client({}), { ...item, dryRun: false }), {
                    imageId: "ami-0123",
                    outcome: "already-gone",
                });
            });
        }

        it("reports a dry run when EC2 answers DryRunOperation", async () => {
            ec2().on(DeregisterImageCommand).rejects(awsError("DryRunOperation"));
            const result = await deregisterImage(new EC2Client({}), { ...item, dryRun: true });
            assert.deepEqual(result, { imageId: "ami-0123", outcome: "dry-run" });
            assert.equal(ec2().commandCalls(DeregisterImageCommand)[0].args[0].input.DryRun, true);
        });

        it("fails with an error that names the AMI, the call and the AWS error", async () => {
            ec2()
                .on(DeregisterImageCommand)
                .rejects(awsError("UnauthorizedOperation", "You are not authorized"));
            await assert.rejects(deregisterImage(new EC2Client({}), { ...item, dryRun: false }), {
                name: ErrorNames.accessDenied,
                message: "ami-0123: DeregisterImage failed: UnauthorizedOperation: You are not authorized",
            });
        });

        it("marks throttling that outlived the SDK's retries as retryable by the state", async () => {
            ec2()
                .on(DeregisterImageCommand)
                .rejects(awsError("RequestLimitExceeded", "Request limit exceeded."));
            await assert.rejects(deregisterImage(new EC2Client({}), { ...item, dryRun: false }), {
                name: ErrorNames.transient,
            });
        });
    });

    describe("deleteSnapshots", () => {
        const item = {
            imageId: "ami-0123",
            name: "web",
            creationDate: ago(50),
            snapshotIds: ["snap-1", "snap-2", "snap-3"],
        };
        const run = (dryRun = false) => deleteSnapshots(new EC2Client({}), { ...item, dryRun });

        it("deletes every snapshot of the AMI", async () => {
            ec2().on(DeleteSnapshotCommand).resolves({});
            assert.deepEqual(await run(), {
                imageId: "ami-0123",
                deleted: ["snap-1", "snap-2", "snap-3"],
                alreadyGone: [],
                skipped: [],
            });
            assert.deepEqual(
                ec2()
                    .commandCalls(DeleteSnapshotCommand)
                    .map((c) => c.args[0].input),
                [
                    { SnapshotId: "snap-1", DryRun: false },
                    { SnapshotId: "snap-2", DryRun: false },
                    { SnapshotId: "snap-3", DryRun: false },
                ],
            );
        });

        it("counts a snapshot that is already gone as done", async () => {
            ec2().on(DeleteSnapshotCommand).resolves({});
            ec2()
                .on(DeleteSnapshotCommand, { SnapshotId: "snap-2" })
                .rejects(awsError("InvalidSnapshot.NotFound"));
            assert.deepEqual(await run(), {
                imageId: "ami-0123",
                deleted: ["snap-1", "snap-3"],
                alreadyGone: ["snap-2"],
                skipped: [],
            });
        });

        it("skips, with its reason, a snapshot that another AMI still uses", async () => {
            ec2().on(DeleteSnapshotCommand).resolves({});
            ec2()
                .on(DeleteSnapshotCommand, { SnapshotId: "snap-3" })
                .rejects(
                    awsError("InvalidSnapshot.InUse", "The snapshot snap-3 is currently in use by ami-0999"),
                );
            assert.deepEqual(await run(), {
                imageId: "ami-0123",
                deleted: ["snap-1", "snap-2"],
                alreadyGone: [],
                skipped: [{ snapshotId: "snap-3", reason: "in-use:image ami-0999" }],
            });
        });

        it("asks the state to retry while the just-deregistered AMI still holds a snapshot", async () => {
            ec2().on(DeleteSnapshotCommand).resolves({});
            ec2()
                .on(DeleteSnapshotCommand, { SnapshotId: "snap-1" })
                .rejects(
                    awsError("InvalidSnapshot.InUse", "The snapshot snap-1 is currently in use by ami-0123"),
                );
            await assert.rejects(run(), {
                name: ErrorNames.snapshotStillInUse,
                message: "ami-0123: snapshot snap-1 is still held by ami-0123",
            });
            assert.equal(
                ec2().commandCalls(DeleteSnapshotCommand).length,
                3,
                "the other snapshots are still deleted",
            );
        });

        it("tries every snapshot, then fails naming the AMI and each failed snapshot", async () => {
            ec2().on(DeleteSnapshotCommand).resolves({});
            ec2()
                .on(DeleteSnapshotCommand, { SnapshotId: "snap-1" })
                .rejects(awsError("UnauthorizedOperation", "denied"));
            ec2()
                .on(DeleteSnapshotCommand, { SnapshotId: "snap-3" })
                .rejects(awsError("InternalError", "boom"));
            await assert.rejects(run(), {
                name: ErrorNames.awsError,
                message:
                    "ami-0123: snapshot snap-1: DeleteSnapshot failed: UnauthorizedOperation: denied; " +
                    "ami-0123: snapshot snap-3: DeleteSnapshot failed: InternalError: boom",
            });
            assert.equal(ec2().commandCalls(DeleteSnapshotCommand).length, 3);
        });

        it("reports what a dry run would delete", async () => {
            ec2().on(DeleteSnapshotCommand).rejects(awsError("DryRunOperation"));
            assert.deepEqual(await run(true), {
                imageId: "ami-0123",
                deleted: ["snap-1", "snap-2", "snap-3"],
                alreadyGone: [],
                skipped: [],
            });
            assert.ok(
                ec2()
                    .commandCalls(DeleteSnapshotCommand)
                    .every((c) => c.args[0].input.DryRun === true),
            );
        });
    });
});
