// End to end against moto server: the real handlers, the real definition, the local Step Functions runner.

import * as assert from "node:assert/strict";
import { DescribeImagesCommand, DescribeSnapshotsCommand, type EC2Client } from "@aws-sdk/client-ec2";
import { settingsWith } from "../../functions/core/ami/settings";
import type { UsageClients } from "../../functions/core/ami/usage";
import {
    hoursAgo,
    MOTO_ACCOUNT_ID,
    type Moto,
    motoClients,
    type SeedAmi,
    startMoto,
} from "../../runner/moto";
import { runCleanup } from "../../runner/run";

const OTHER_ACCOUNT = "210987654321";
const ami = (id: string, hours: number, extra: Partial<SeedAmi> = {}): SeedAmi => ({
    ami_id: id,
    name: `img-${id}`,
    owner_id: MOTO_ACCOUNT_ID,
    creation_date: hoursAgo(hours),
    state: "available",
    ...extra,
});

const SEED = [
    ami("ami-0e000000000000001", 25),
    ami("ami-0e000000000000002", 73),
    ami("ami-0e000000000000003", 24 * 30),
    ami("ami-0k000000000000004", 23),
    ami("ami-0k000000000000005", 500, { state: "pending" }),
    ami("ami-0k000000000000006", 500, { owner_id: OTHER_ACCOUNT }),
    ami("ami-0k000000000000007", 1),
];
const EXPIRED = ["ami-0e000000000000001", "ami-0e000000000000002", "ami-0e000000000000003"];
const ALL_IDS = SEED.map((s) => s.ami_id);

async function imagesById(ec2: EC2Client): Promise<Map<string, string[]>> {
    // A filter, not ImageIds: EC2 fails a lookup by ids when one of them is gone.
    const images =
        (await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: "image-id", Values: ALL_IDS }] })))
            .Images ?? [];
    return new Map(
        images.map((i) => [
            i.ImageId ?? "",
            (i.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId ?? ""),
        ]),
    );
}

async function snapshotIds(ec2: EC2Client): Promise<string[]> {
    const snaps = (await ec2.send(new DescribeSnapshotsCommand({}))).Snapshots ?? [];
    return snaps.map((s) => s.SnapshotId ?? "").sort();
}

describe("AMI cleanup against moto server", function () {
    this.timeout(120_000);
    let moto: Moto;
    let ec2: EC2Client;
    let clients: UsageClients;
    let before_: Map<string, string[]>;

    before(async () => {
        moto = await startMoto({ amis: SEED });
        clients = motoClients(moto.endpoint);
        ec2 = clients.ec2;
        before_ = await imagesById(ec2);
        assert.equal(before_.size, SEED.length, "every seeded AMI exists before the run");
    });
    after(async () => moto?.stop());

    it("a dry run reports exactly the expired AMIs and changes nothing", async () => {
        const snapsBefore = await snapshotIds(ec2);
        const summary = await runCleanup({
            clients,
            settings: settingsWith({ validHours: 24, dryRun: true }),
        });
        assert.deepEqual(summary.expired.map((i) => i.imageId).sort(), EXPIRED);
        assert.deepEqual(
            summary.wouldDelete.map((d) => [d.imageId, d.snapshotIds]).sort(),
            EXPIRED.map((id) => [id, before_.get(id)]),
        );
        assert.deepEqual(summary.deleted, []);
        assert.deepEqual(summary.failed, []);
        // moto gives every AMI one 15 GiB volume
        assert.equal(summary.estimatedGiB, 45);
        assert.deepEqual(await imagesById(ec2), before_);
        assert.deepEqual(await snapshotIds(ec2), snapsBefore);
    });

    it("deletes exactly the expired, self-owned, available AMIs and their snapshots", async () => {
        const snapsBefore = await snapshotIds(ec2);
        const summary = await runCleanup({
            clients,
            settings: settingsWith({ validHours: 24, maxConcurrency: 2 }),
        });
        assert.deepEqual(summary.failed, []);
        assert.deepEqual(
            summary.deleted.map((d) => [d.imageId, d.snapshotIds]).sort(),
            EXPIRED.map((id) => [id, before_.get(id)]),
        );
        const after = await imagesById(ec2);
        assert.deepEqual([...after.keys()].sort(), ALL_IDS.filter((id) => !EXPIRED.includes(id)).sort());
        for (const [id, snaps] of after) assert.deepEqual(snaps, before_.get(id), `${id} is untouched`);
        const gone = EXPIRED.flatMap((id) => before_.get(id) ?? []);
        assert.deepEqual(
            await snapshotIds(ec2),
            snapsBefore.filter((s) => !gone.includes(s)),
        );
    });

    it("a second run finds nothing left to do", async () => {
        const summary = await runCleanup({ clients, settings: settingsWith({ validHours: 24 }) });
        assert.deepEqual([summary.expired, summary.deleted, summary.failed], [[], [], []]);
        assert.equal((await imagesById(ec2)).size, SEED.length - EXPIRED.length);
    });
});
