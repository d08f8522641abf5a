// Property test: over random sets of AMIs, what the janitor deletes is exactly what a small independent model of
// the rules predicts, and no snapshot of a kept AMI is ever deleted.
import * as assert from "node:assert/strict";
import {
    DeleteSnapshotCommand,
    DeregisterImageCommand,
    DescribeImagesCommand,
    DescribeInstancesCommand,
    DescribeLaunchTemplatesCommand,
    DescribeLaunchTemplateVersionsCommand,
    EC2Client,
    type Image,
} from "@aws-sdk/client-ec2";
import * as fc from "fast-check";
import { deleteSnapshots, deregisterImage } from "../../functions/core/ami/deletion";
import { listExpiredImages } from "../../functions/core/ami/listing";
import { settingsWith } from "../../functions/core/ami/settings";
import { awsError, useClientMock } from "../helpers";

const NOW = new Date("2026-11-22T12:00:00.000Z");
const STEMS = ["web", "api", "batch-job"];

interface Ami {
    id: string;
    ageHours: number;
    self: boolean;
    state: "available" | "pending" | "failed";
    keepTag: string | undefined;
    stem: string;
    app: string;
    version: number;
    use: "none" | "instance" | "template";
    snapshots: string[];
}

const amiArb = (i: number) =>
    fc.record({
        id: fc.constant(`ami-${i.toString(16).padStart(8, "0")}`),
        ageHours: fc.integer({ min: 0, max: 2000 }),
        self: fc.boolean(),
        state: fc.constantFrom("available", "available", "available", "pending", "failed"),
        keepTag: fc.constantFrom(undefined, undefined, "yes", "false", "FALSE", ""),
        stem: fc.constantFrom(...STEMS),
        app: fc.constantFrom("a", "b"),
        version: fc.integer({ min: 1, max: 99 }),
        use: fc.constantFrom("none", "none", "none", "instance", "template"),
        // own snapshots, and sometimes one shared with the next AMI
        snapshots: fc.constantFrom(
            [`snap-${i}a`],
            [`snap-${i}a`, `snap-${i}b`],
            [`snap-${i}a`, `snap-shared-${i + 1}`],
            [],
        ),
    }) as fc.Arbitrary<Ami>;

const scenarioArb = fc.integer({ min: 0, max: 12 }).chain((n) =>
    fc.record({
        amis: fc.tuple(...Array.from({ length: n }, (_, i) => amiArb(i))),
        validHours: fc.integer({ min: 1, max: 1000 }),
        keepLatest: fc.integer({ min: 0, max: 3 }),
        groupByTag: fc.boolean(),
        protectInUse: fc.boolean(),
    }),
);

const created = (a: Ami) => new Date(NOW.getTime() - a.ageHours * 3_600_000).toISOString();

/** The rules, written independently of the implementation. */
function model(s: {
    amis: Ami[];
    validHours: number;
    keepLatest: number;
    groupByTag: boolean;
    protectInUse: boolean;
}): Set<string> {
    const eligible = s.amis.filter((a) => a.self && a.state === "available");
    const group = (a: Ami) => (s.groupByTag ? a.app : a.stem);
    const newest = new Set<string>();
    for (const g of new Set(eligible.map(group))) {
        const members = eligible
            .filter((a) => group(a) === g)
            .sort((x, y) => x.ageHours - y.ageHours || x.id.localeCompare(y.id));
        for (const a of members.slice(0, s.keepLatest)) newest.add(a.id);
    }
    return new Set(
        eligible
            .filter((a) => a.ageHours > s.validHours)
            .filter((a) => a.keepTag === undefined || a.keepTag.toLowerCase() === "false")
            .filter((a) => !newest.has(a.id))
            .filter((a) => !s.protectInUse || a.use === "none")
            .map((a) => a.id),
    );
}

describe("guardrails (property)", function () {
    this.timeout(300_000);
    const ec2 = useClientMock(EC2Client);

    it("deletes exactly what the model predicts and never a kept AMI's snapshot (1,000 random runs)", async () => {
        await fc.assert(
            fc.asyncProperty(scenarioArb, async (s) => {
                ec2().reset();
                const registered = new Map(s.amis.map((a) => [a.id, a]));
                const deletedSnapshots: string[] = [];
                // A fake EC2: Owners=self is applied server-side as EC2 does; the state filter is left to the code.
                ec2()
                    .on(DescribeImagesCommand)
                    .callsFake(() => ({
                        Images: [...registered.values()]
                            .filter((a) => a.self)
                            .map(
                                (a): Image => ({
                                    ImageId: a.id,
                                    Name: `${a.stem}-${a.version}`,
                                    State: a.state,
                                    CreationDate: created(a),
                                    Tags: [
                                        ...(a.keepTag === undefined
                                            ? []
                                            : [{ Key: "image-janitor:keep", Value: a.keepTag }]),
                                        { Key: "app", Value: a.app },
                                    ],
                                    BlockDeviceMappings: a.snapshots.map((id) => ({
                                        DeviceName: "/dev/xvda",
                                        Ebs: { SnapshotId: id },
                                    })),
                                }),
                            ),
                    }));
                ec2()
                    .on(DescribeInstancesCommand)
                    .resolves({
                        Reservations: [
                            {
                                Instances: s.amis
                                    .filter((a) => a.use === "instance")
                                    .map((a) => ({ ImageId: a.id, InstanceId: `i-${a.id}` })),
                            },
                        ],
                    });
                const templated = s.amis.filter((a) => a.use === "template");
                ec2()
                    .on(DescribeLaunchTemplatesCommand)
                    .resolves({
                        LaunchTemplates: templated.map((a) => ({ LaunchTemplateId: `lt-${a.id}` })),
                    });
                ec2()
                    .on(DescribeLaunchTemplateVersionsCommand)
                    .callsFake((input) => ({
                        LaunchTemplateVersions: [
                            { LaunchTemplateData: { ImageId: String(input.LaunchTemplateId).slice(3) } },
                        ],
                    }));
                ec2()
                    .on(DeregisterImageCommand)
                    .callsFake((input) => {
                        if (!registered.delete(input.ImageId)) throw awsError("InvalidAMIID.NotFound");
                        return {};
                    });
                ec2()
                    .on(DeleteSnapshotCommand)
                    .callsFake((input) => {
                        const user = [...registered.values()].find((a) =>
                            a.snapshots.includes(input.SnapshotId),
                        );
                        if (user)
                            throw awsError(
                                "InvalidSnapshot.InUse",
                                `The snapshot ${input.SnapshotId} is currently in use by ${user.id}`,
                            );
                        deletedSnapshots.push(input.SnapshotId);
                        return {};
                    });

                const client = new EC2Client({});
                const settings = settingsWith({
                    validHours: s.validHours,
                    keepLatest: s.keepLatest,
                    // Grouping is refused without keepLatest: it would do nothing.
                    ...(s.groupByTag && s.keepLatest > 0 ? { groupByTag: "app" } : {}),
                    protectInUse: s.protectInUse,
                });
                const { images } = await listExpiredImages(client, settings, NOW);
                for (const image of images) {
                    await deregisterImage(client, { image, dryRun: false });
                    await deleteSnapshots(client, { image, dryRun: false });
                }

                const expected = model(s);
                assert.deepEqual(new Set(images.map((i) => i.imageId)), expected);
                const kept = s.amis.filter((a) => !expected.has(a.id));
                for (const a of kept) {
                    assert.ok(registered.has(a.id), `${a.id} is still registered`);
                    for (const snap of a.snapshots)
                        assert.ok(!deletedSnapshots.includes(snap), `${snap} of kept ${a.id} was deleted`);
                }
            }),
            { numRuns: 1000, seed: 20261122 },
        );
    });
});
