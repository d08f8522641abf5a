// The local runner over a stubbed EC2: one failing AMI is reported, the others finish, and the run is not a success.

import * as assert from "node:assert/strict";
import {
    DeleteSnapshotCommand,
    DeregisterImageCommand,
    DescribeImagesCommand,
    DescribeInstancesCommand,
    DescribeLaunchTemplateVersionsCommand,
    DescribeSnapshotsCommand,
    type DescribeSnapshotsCommandInput,
    EC2Client,
    type Image,
} from "@aws-sdk/client-ec2";
import { settingsWith } from "../../functions/core/ami/settings";
import { createPacer } from "../../functions/core/shared/pacing";
import { describeFailure, onContainers, runCleanup } from "../../runner/run";
import { installFakeEc2, oldImages } from "../fakeEc2";
import { awsError, mockedClients, useClientMock, useLookupMocks } from "../helpers";

const old = (id: string, snaps: string[]): Image => ({
    ImageId: id,
    Name: id,
    State: "available",
    CreationDate: "2020-01-01T00:00:00.000Z",
    BlockDeviceMappings: snaps.map((s) => ({ DeviceName: "/dev/xvda", Ebs: { SnapshotId: s } })),
});

const askedSnapshots = (input: DescribeSnapshotsCommandInput) =>
    (input.Filters ?? []).filter((f) => f.Name === "snapshot-id").flatMap((f) => f.Values ?? []);

describe("local runner", () => {
    const ec2 = useClientMock(EC2Client);
    useLookupMocks(ec2);
    // Nothing uses the AMIs, and every snapshot asked about exists, unless a test says so.
    beforeEach(() => {
        ec2().on(DescribeInstancesCommand).resolves({ Reservations: [] });
        ec2()
            .on(DescribeSnapshotsCommand)
            .callsFake((input) => ({
                Snapshots: askedSnapshots(input).map((SnapshotId) => ({ SnapshotId })),
            }));
    });

    it("finishes every other AMI when one fails, and reports the failure with its AMI", async () => {
        ec2()
            .on(DescribeImagesCommand)
            .resolves({
                Images: [
                    old("ami-01", ["snap-01"]),
                    old("ami-02", ["snap-02"]),
                    old("ami-03", ["snap-03a", "snap-03b"]),
                ],
            });
        ec2().on(DeregisterImageCommand).resolves({});
        ec2()
            .on(DeregisterImageCommand, { ImageId: "ami-02" })
            .rejects(awsError("UnauthorizedOperation", "denied"));
        ec2().on(DeleteSnapshotCommand).resolves({});
        const summary = await runCleanup({
            clients: mockedClients(),
            retryIntervalMs: 0,
            settings: settingsWith({ validHours: 1 }),
        });
        assert.deepEqual(summary.deleted, [
            { imageId: "ami-01", snapshotIds: ["snap-01"] },
            { imageId: "ami-03", snapshotIds: ["snap-03a", "snap-03b"] },
        ]);
        assert.deepEqual(summary.failed, [
            {
                imageId: "ami-02",
                error: "ImageJanitor.AccessDenied: ami-02: DeregisterImage failed: UnauthorizedOperation: denied",
            },
        ]);
        assert.deepEqual(
            ec2()
                .commandCalls(DeleteSnapshotCommand)
                .map((c) => c.args[0].input.SnapshotId)
                .sort(),
            ["snap-01", "snap-03a", "snap-03b"],
            "the failed AMI's snapshots are not touched",
        );
    });

    it("reports an AMI whose snapshot deletion fails, and finishes the others", async () => {
        ec2()
            .on(DescribeImagesCommand)
            .resolves({
                Images: [
                    old("ami-01", ["snap-01"]),
                    old("ami-02", ["snap-02a", "snap-02b"]),
                    old("ami-03", ["snap-03"]),
                ],
            });
        ec2().on(DeregisterImageCommand).resolves({});
        ec2().on(DeleteSnapshotCommand).resolves({});
        ec2()
            .on(DeleteSnapshotCommand, { SnapshotId: "snap-02a" })
            .rejects(awsError("UnauthorizedOperation", "You are not authorized to perform this operation."));
        const summary = await runCleanup({
            clients: mockedClients(),
            retryIntervalMs: 0,
            settings: settingsWith({ validHours: 1, protectInUse: false }),
        });
        assert.deepEqual(summary.deleted, [
            { imageId: "ami-01", snapshotIds: ["snap-01"] },
            { imageId: "ami-03", snapshotIds: ["snap-03"] },
        ]);
        assert.deepEqual(summary.failed, [
            {
                imageId: "ami-02",
                error: "ImageJanitor.AccessDenied: ami-02: snapshot snap-02a: DeleteSnapshot failed: UnauthorizedOperation: You are not authorized to perform this operation.",
            },
        ]);
        assert.ok(
            ec2()
                .commandCalls(DeleteSnapshotCommand)
                .some((c) => c.args[0].input.SnapshotId === "snap-02b"),
            "the AMI's other snapshot is still deleted",
        );
    });

    it("retries throttled calls with backoff until they succeed", async () => {
        ec2()
            .on(DescribeImagesCommand)
            .resolves({ Images: [old("ami-01", ["snap-01"])] });
        ec2()
            .on(DeregisterImageCommand)
            .rejectsOnce(awsError("RequestLimitExceeded"))
            .rejectsOnce(awsError("RequestLimitExceeded"))
            .resolves({});
        ec2().on(DeleteSnapshotCommand).resolves({});
        const summary = await runCleanup({
            clients: mockedClients(new EC2Client({ maxAttempts: 1 })),
            retryIntervalMs: 0,
            backoff: { baseMs: 1, capMs: 1 },
            settings: settingsWith({ validHours: 1 }),
        });
        assert.deepEqual(summary.deleted, [{ imageId: "ami-01", snapshotIds: ["snap-01"] }]);
        assert.equal(ec2().commandCalls(DeregisterImageCommand).length, 3);
    });

    it("keeps expired AMIs a guardrail protects, reports why, and touches none of their snapshots", async () => {
        const tagged = (
            id: string,
            date: string,
            name: string,
            tags: Record<string, string> = {},
        ): Image => ({
            ...old(id, [`snap-${id.slice(4)}`]),
            Name: name,
            CreationDate: date,
            Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        });
        ec2()
            .on(DescribeImagesCommand)
            .resolves({
                Images: [
                    tagged("ami-01", "2020-01-01T00:00:00.000Z", "web-20200101", {
                        "image-janitor:keep": "yes",
                    }),
                    tagged("ami-02", "2020-01-02T00:00:00.000Z", "web-20200102", {
                        "image-janitor:keep": "false",
                    }),
                    tagged("ami-03", "2020-01-03T00:00:00.000Z", "web-20200103"),
                    tagged("ami-04", "2020-01-01T00:00:00.000Z", "api-1"),
                    tagged("ami-05", "2020-01-02T00:00:00.000Z", "api-2"),
                    tagged("ami-06", "2020-01-03T00:00:00.000Z", "api-3"),
                ],
            });
        ec2()
            .on(DescribeInstancesCommand)
            .resolves({ Reservations: [{ Instances: [{ InstanceId: "i-0aa", ImageId: "ami-04" }] }] });
        ec2()
            .on(DescribeLaunchTemplateVersionsCommand)
            .resolves({
                LaunchTemplateVersions: [
                    {
                        LaunchTemplateId: "lt-0bb",
                        VersionNumber: 4,
                        LaunchTemplateData: { ImageId: "ami-05" },
                    },
                ],
            });
        ec2().on(DeregisterImageCommand).resolves({});
        ec2().on(DeleteSnapshotCommand).resolves({});
        const summary = await runCleanup({
            clients: mockedClients(),
            retryIntervalMs: 0,
            settings: settingsWith({ validHours: 1, keepLatest: 1 }),
        });
        assert.deepEqual(summary.skipped, [
            { imageId: "ami-01", reason: "keep-tag" },
            { imageId: "ami-03", reason: "keep-latest" },
            { imageId: "ami-04", reason: "in-use:instance i-0aa" },
            { imageId: "ami-05", reason: "in-use:launch-template lt-0bb version 4" },
            { imageId: "ami-06", reason: "keep-latest" },
        ]);
        assert.deepEqual(
            summary.deleted.map((d) => d.imageId),
            ["ami-02"],
        );
        assert.deepEqual(
            ec2()
                .commandCalls(DeleteSnapshotCommand)
                .map((c) => c.args[0].input.SnapshotId),
            ["snap-02"],
        );
        // One account-wide call for every template's default and latest version, not one per template.
        assert.deepEqual(
            ec2()
                .commandCalls(DescribeLaunchTemplateVersionsCommand)
                .map((c) => c.args[0].input),
            [
                {
                    Versions: ["$Default", "$Latest"],
                    ResolveAlias: true,
                    MaxResults: 200,
                    NextToken: undefined,
                },
            ],
        );
    });

    it("deletes every expired AMI and nothing else when 30% of EC2 calls are throttled", async () => {
        // A seeded generator, so a failure can be replayed.
        let seed = 42;
        const random = () => {
            seed = (seed * 1103515245 + 12345) % 2 ** 31;
            return seed / 2 ** 31;
        };
        const throttled = <T>(fn: () => T) => {
            if (random() < 0.3) throw awsError("RequestLimitExceeded", "Request limit exceeded.");
            return fn();
        };
        const images = Array.from({ length: 40 }, (_, i) => ({
            ...old(`ami-${String(i).padStart(3, "0")}`, [`snap-${i}`]),
            CreationDate: i % 4 === 0 ? new Date().toISOString() : "2020-01-01T00:00:00.000Z",
        }));
        const registered = new Set(images.map((i) => i.ImageId));
        ec2()
            .on(DescribeImagesCommand)
            .callsFake(() => throttled(() => ({ Images: images.filter((i) => registered.has(i.ImageId)) })));
        ec2()
            .on(DeregisterImageCommand)
            .callsFake((input) =>
                throttled(() => {
                    if (!registered.delete(input.ImageId)) throw awsError("InvalidAMIID.NotFound");
                    return {};
                }),
            );
        const deletedSnapshots: string[] = [];
        ec2()
            .on(DeleteSnapshotCommand)
            .callsFake((input) =>
                throttled(() => {
                    deletedSnapshots.push(input.SnapshotId);
                    return {};
                }),
            );
        ec2()
            .on(DescribeSnapshotsCommand)
            .callsFake((input) =>
                throttled(() => ({ Snapshots: askedSnapshots(input).map((SnapshotId) => ({ SnapshotId })) })),
            );
        // SDK retries off: every throttle reaches the batch's backoff or the state machine's own Retry.
        const summary = await runCleanup({
            clients: mockedClients(new EC2Client({ maxAttempts: 1 })),
            retryIntervalMs: 0,
            backoff: { baseMs: 1, capMs: 2 },
            settings: settingsWith({ validHours: 1, protectInUse: false }),
        });
        const expired = images.filter((_, i) => i % 4 !== 0).map((i) => i.ImageId);
        assert.deepEqual(summary.failed, []);
        assert.deepEqual(summary.deleted.map((d) => d.imageId).sort(), expired);
        assert.deepEqual(
            [...registered].sort(),
            images.filter((_, i) => i % 4 === 0).map((i) => i.ImageId),
        );
        assert.deepEqual(
            [...new Set(deletedSnapshots)].sort(),
            images
                .filter((_, i) => i % 4 !== 0)
                .flatMap((i) => i.BlockDeviceMappings?.map((m) => m.Ebs?.SnapshotId ?? "") ?? [])
                .sort(),
        );
    });

    it("reports an AMI someone else deregistered as already gone, leaving its snapshots alone; a gone snapshot counts as done", async () => {
        ec2()
            .on(DescribeImagesCommand)
            .resolves({ Images: [old("ami-01", ["snap-01"]), old("ami-02", ["snap-02"])] });
        ec2().on(DeregisterImageCommand).resolves({});
        ec2()
            .on(DeregisterImageCommand, { ImageId: "ami-01" })
            .rejects(awsError("InvalidAMIID.NotFound", "The image id '[ami-01]' does not exist"));
        ec2().on(DeleteSnapshotCommand).resolves({});
        ec2()
            .on(DeleteSnapshotCommand, { SnapshotId: "snap-02" })
            .rejects(awsError("InvalidSnapshot.NotFound"));
        const summary = await runCleanup({
            clients: mockedClients(),
            retryIntervalMs: 0,
            settings: settingsWith({ validHours: 1, protectInUse: false }),
        });
        assert.deepEqual(summary.failed, []);
        assert.deepEqual(summary.deleted, [{ imageId: "ami-02", snapshotIds: ["snap-02"] }]);
        assert.deepEqual(summary.alreadyGone, [{ imageId: "ami-01", snapshotIds: ["snap-01"] }]);
        assert.deepEqual(
            ec2()
                .commandCalls(DeleteSnapshotCommand)
                .map((c) => c.args[0].input.SnapshotId),
            ["snap-02"],
            "someone may have kept ami-01's snapshot on purpose",
        );
    });

    it("after a run dies between deregistering and deleting snapshots, the next run finishes with nothing orphaned", async () => {
        // A fake EC2 that honours DeleteAssociatedSnapshots: snapshots no other registered AMI uses go with the AMI.
        const images = Array.from({ length: 150 }, (_, i) => {
            const n = String(i).padStart(3, "0");
            return old(`ami-${n}`, [`snap-${n}`]);
        });
        images.push({ ...old("ami-shared", ["snap-000"]), CreationDate: new Date().toISOString() }); // not expired
        const registered = new Map(images.map((i) => [i.ImageId ?? "", i]));
        const snapshots = new Set(
            images.flatMap((i) => i.BlockDeviceMappings?.map((m) => m.Ebs?.SnapshotId ?? "") ?? []),
        );
        const deletions: string[] = [];
        const inUse = (snap: string) =>
            [...registered.values()].some((i) =>
                i.BlockDeviceMappings?.some((m) => m.Ebs?.SnapshotId === snap),
            );
        ec2()
            .on(DescribeImagesCommand)
            .callsFake(() => ({ Images: [...registered.values()] }));
        ec2()
            .on(DescribeSnapshotsCommand)
            .callsFake((input) => ({
                Snapshots: askedSnapshots(input)
                    .filter((s) => snapshots.has(s))
                    .map((SnapshotId) => ({ SnapshotId })),
            }));
        ec2()
            .on(DeregisterImageCommand)
            .callsFake((input) => {
                const image = registered.get(input.ImageId);
                if (!image) throw awsError("InvalidAMIID.NotFound");
                registered.delete(input.ImageId);
                const results = [];
                for (const m of image.BlockDeviceMappings ?? []) {
                    const snap = m.Ebs?.SnapshotId ?? "";
                    if (input.DeleteAssociatedSnapshots && snapshots.has(snap) && !inUse(snap)) {
                        snapshots.delete(snap);
                        deletions.push(snap);
                        results.push({ SnapshotId: snap, ReturnCode: "success" as const });
                    }
                }
                return { Return: true, DeleteSnapshotResults: results };
            });
        // First run: the process dies in the first batch's snapshot step, before any DeleteSnapshot returns.
        let dying = true;
        ec2()
            .on(DeleteSnapshotCommand)
            .callsFake((input) => {
                if (dying) return new Promise(() => {});
                if (!snapshots.has(input.SnapshotId)) throw awsError("InvalidSnapshot.NotFound");
                if (inUse(input.SnapshotId))
                    throw awsError(
                        "InvalidSnapshot.InUse",
                        `The snapshot ${input.SnapshotId} is currently in use by ami-shared`,
                    );
                snapshots.delete(input.SnapshotId);
                deletions.push(input.SnapshotId);
                return {};
            });
        const killed = new AbortController();
        const first = runCleanup({
            clients: mockedClients(),
            retryIntervalMs: 0,
            signal: killed.signal,
            settings: settingsWith({ validHours: 1, protectInUse: false, maxConcurrency: 1 }),
        });
        const died = await Promise.race([
            first.then(() => false),
            new Promise<boolean>((r) => setTimeout(() => r(true), 1500)),
        ]);
        assert.equal(died, true, "the first run never finished");
        killed.abort();
        await assert.rejects(first);
        assert.equal(
            ec2().commandCalls(DeregisterImageCommand).length,
            100,
            "the first run deregistered its first batch, then died",
        );
        assert.deepEqual(
            ec2()
                .commandCalls(DeleteSnapshotCommand)
                .map((c) => c.args[0].input.SnapshotId),
            ["snap-000"],
            "only the snapshot the kept AMI still uses was left for DeleteSnapshot",
        );

        dying = false;
        const second = await runCleanup({
            clients: mockedClients(),
            retryIntervalMs: 0,
            settings: settingsWith({ validHours: 1, protectInUse: false }),
        });
        assert.deepEqual(second.failed, []);
        assert.equal(second.deleted.length, 50);
        assert.deepEqual([...registered.keys()], ["ami-shared"]);
        assert.deepEqual([...snapshots].sort(), ["snap-000"], "only the snapshot the kept AMI uses remains");
        assert.deepEqual(
            [...deletions].sort(),
            images
                .slice(1, 150)
                .map((i) => i.BlockDeviceMappings?.[0].Ebs?.SnapshotId)
                .sort(),
            "each deleted exactly once",
        );
        assert.equal(
            ec2().commandCalls(DeregisterImageCommand).length,
            150,
            "the second run deregisters only what the first did not",
        );
    });

    it("reads a Lambda error's JSON cause and a local handler's plain one alike", () => {
        const lambdaCause = JSON.stringify({
            errorType: "ImageJanitor.AwsError",
            errorMessage: "ami-1: boom",
            trace: ["at x"],
        });
        assert.equal(
            describeFailure("ImageJanitor.AwsError", lambdaCause),
            "ImageJanitor.AwsError: ami-1: boom",
        );
        assert.equal(
            describeFailure("ImageJanitor.AwsError", "ami-1: boom"),
            "ImageJanitor.AwsError: ami-1: boom",
        );
    });

    it("runs each batch function on maxConcurrency containers of its own, each pacer given its share, as deployed", async () => {
        const fake = installFakeEc2(ec2(), oldImages(450));
        const shares: number[] = [];
        let containers = 0;
        const s = await runCleanup({
            clients: mockedClients(),
            retryIntervalMs: 0,
            settings: settingsWith({ validHours: 1, maxConcurrency: 3, protectInUse: false }),
            container: () => {
                containers += 1;
                const pacer = createPacer();
                return {
                    ec2: new EC2Client({}),
                    pacer: { ...pacer, divideAmong: (n: number) => shares.push(n) },
                };
            },
        });
        assert.equal(s.deleted.length, 450);
        assert.equal(fake.deregistered.length, 450);
        assert.equal(containers, 6, "three for each batch function");
        // 450 AMIs in 6 batches of 75 (a multiple of 3), two invocations each.
        assert.deepEqual(shares, Array(12).fill(3));
    });

    it("gives a container one invocation at a time; the next waits for a free one", async () => {
        const running = new Map<number, number>();
        const releases: (() => void)[] = [];
        let made = 0;
        const handler = onContainers(
            2,
            () => ({ ec2: new EC2Client({}), pacer: createPacer() }),
            new EC2Client({}),
            () => {
                const id = made++;
                return async (event: string) => {
                    running.set(id, (running.get(id) ?? 0) + 1);
                    assert.equal(running.get(id), 1, `container ${id} runs one invocation at a time`);
                    await new Promise<void>((r) => releases.push(r));
                    running.set(id, 0);
                    return `${event} on ${id}`;
                };
            },
        );
        const calls = ["a", "b", "c"].map((e) => handler(e));
        await new Promise((r) => setImmediate(r));
        assert.equal(releases.length, 2, "the third waits");
        releases[0]();
        await new Promise((r) => setImmediate(r));
        assert.equal(releases.length, 3, "and starts when one is free");
        releases[1]();
        releases[2]();
        const out = await Promise.all(calls);
        assert.equal(made, 2);
        assert.deepEqual(
            out.map((o) => o.split(" ")[0]),
            ["a", "b", "c"],
        );
    });

    describe("a run's next listing, made while a page deletes", () => {
        // Three pages (1,000 AMIs each); the clock moves 3 seconds per AMI deregistered, so a page takes
        // 50 minutes: page 2 reuses page 1's listing and asks for the next one, page 3 reuses that.
        const run = async (failRefresh: boolean) => {
            const fake = installFakeEc2(ec2(), oldImages(3_000));
            const listedAt: number[] = [];
            ec2()
                .on(DescribeImagesCommand)
                .callsFake(async (input) => {
                    if (!input.ImageIds && !input.NextToken) {
                        listedAt.push(fake.deregistered.length);
                        if (failRefresh && listedAt.length === 2)
                            throw awsError("UnauthorizedOperation", "not this once");
                    } else if (!input.ImageIds && listedAt.length === 2 && input.NextToken === "1000") {
                        // The refresh's second DescribeImages page comes once 100 or more AMIs are gone: the
                        // fake's tokens are offsets, so its pages shift by as many and miss as many of page 3.
                        const until = fake.deregistered.length + 100;
                        while (fake.deregistered.length < until) await new Promise((r) => setImmediate(r));
                    }
                    return fake.describeImages(input);
                });
            const entries: Record<string, unknown>[] = [];
            const start = Date.parse("2026-11-22T12:00:00.000Z");
            const s = await runCleanup({
                clients: mockedClients(),
                retryIntervalMs: 0,
                settings: settingsWith({ validHours: 1, maxConcurrency: 10, protectInUse: false }),
                now: () => new Date(start + fake.deregistered.length * 3000),
                log: (entry) => entries.push(entry),
            });
            assert.deepEqual([s.deleted.length, s.failed.length, s.stats.executions], [3_000, 0, 3]);
            assert.deepEqual([fake.images.size, new Set(fake.deregistered).size], [0, 3_000]);
            const reused = entries.filter((e) => e.message === "reusing the run's listing").length;
            const refreshes = entries.filter((e) => e.message === "refreshed the run's listing");
            return { listedAt, reused, refreshes };
        };

        it("lists the account for page 3 while page 2 deletes, so page 3 starts at once, and misses none", async () => {
            const { listedAt, reused, refreshes } = await run(false);
            assert.equal(listedAt.length, 2, `listings after ${listedAt.join(", ")} AMIs`);
            assert.equal(listedAt[0], 0);
            assert.ok(
                listedAt[1] >= 1_000 && listedAt[1] < 2_000,
                `the second listing starts while page 2 deletes (after ${listedAt[1]} AMIs)`,
            );
            assert.equal(reused, 2, "pages 2 and 3 list nothing themselves");
            assert.equal(refreshes.length, 1);
            const [{ kept, missing, restored }] = refreshes as {
                kept: boolean;
                missing: number;
                restored: number;
            }[];
            assert.ok(kept && missing >= 100, `the AMIs of page 3 the shifted pages missed: ${missing}`);
            assert.equal(restored, missing, "each looked up again and put back");
        });

        it("goes on deleting when that listing fails: the next page lists for itself", async () => {
            const { listedAt, reused, refreshes } = await run(true);
            assert.equal(refreshes.length, 0, "the refresh failed, and the Catch let the page finish");
            assert.equal(listedAt.length, 3, `listings after ${listedAt.join(", ")} AMIs`);
            assert.ok(listedAt[2] >= 2_000, "page 3 lists after page 2 is done");
            assert.equal(reused, 1, "page 2 alone reuses");
        });
    });
});
