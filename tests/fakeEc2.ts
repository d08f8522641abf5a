// A stateful EC2 behind aws-sdk-client-mock for runner tests: it paginates DescribeImages (moto does not), honours
// the image-id and snapshot-id filters and DeleteAssociatedSnapshots, and refuses to delete a snapshot in use.
import {
    DeleteSnapshotCommand,
    DeregisterImageCommand,
    DescribeImagesCommand,
    DescribeInstancesCommand,
    DescribeLaunchTemplatesCommand,
    DescribeSnapshotsCommand,
    type EC2Client,
    type Image,
} from "@aws-sdk/client-ec2";
import type { AwsClientStub } from "aws-sdk-client-mock";
import { awsError } from "./helpers";

export interface FakeEc2 {
    images: Map<string, Image>;
    snapshots: Set<string>;
    /** Every DeregisterImage and DeleteSnapshot that succeeded, in order. */
    deregistered: string[];
    deletedSnapshots: string[];
    calls: Record<string, number>;
}

const filterValues = (filters: { Name?: string; Values?: string[] }[] | undefined, name: string) =>
    filters?.find((f) => f.Name === name)?.Values;

/** `count` AMIs created in 2020 with one snapshot each, ids in creation order. */
export function oldImages(count: number): Image[] {
    return Array.from({ length: count }, (_, n) => {
        const hex = n.toString(16).padStart(17, "0");
        return {
            ImageId: `ami-${hex}`,
            Name: `bench-${n}`,
            State: "available",
            CreationDate: "2020-01-01T00:00:00.000Z",
            BlockDeviceMappings: [
                { DeviceName: "/dev/xvda", Ebs: { SnapshotId: `snap-${hex}`, VolumeSize: 8 } },
            ],
        };
    });
}

export function installFakeEc2(mock: AwsClientStub<EC2Client>, images: Image[]): FakeEc2 {
    const fake: FakeEc2 = {
        images: new Map(images.map((i) => [i.ImageId ?? "", i])),
        snapshots: new Set(
            images.flatMap((i) => (i.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId ?? "")),
        ),
        deregistered: [],
        deletedSnapshots: [],
        calls: {},
    };
    const count = (action: string) => {
        fake.calls[action] = (fake.calls[action] ?? 0) + 1;
    };
    const snapshotsOf = (i: Image) => (i.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId ?? "");
    const users = new Map<string, number>();
    for (const i of images) for (const s of snapshotsOf(i)) users.set(s, (users.get(s) ?? 0) + 1);
    const inUse = (snap: string) => (users.get(snap) ?? 0) > 0;
    mock.on(DescribeInstancesCommand).callsFake(() => {
        count("DescribeInstances");
        return { Reservations: [] };
    });
    mock.on(DescribeLaunchTemplatesCommand).callsFake(() => {
        count("DescribeLaunchTemplates");
        return { LaunchTemplates: [] };
    });
    mock.on(DescribeImagesCommand).callsFake((input) => {
        count("DescribeImages");
        const ids = filterValues(input.Filters, "image-id");
        const states = filterValues(input.Filters, "state");
        const candidates = ids
            ? ids.map((id) => fake.images.get(id)).filter((i): i is Image => !!i)
            : [...fake.images.values()];
        const all = candidates.filter((i) => !states || states.includes(i.State ?? ""));
        const start = Number(input.NextToken ?? 0);
        const size = input.MaxResults ?? 1000;
        const page = all.slice(start, start + size);
        return { Images: page, NextToken: start + size < all.length ? String(start + size) : undefined };
    });
    mock.on(DescribeSnapshotsCommand).callsFake((input) => {
        count("DescribeSnapshots");
        const ids = filterValues(input.Filters, "snapshot-id") ?? [...fake.snapshots];
        return { Snapshots: ids.filter((s) => fake.snapshots.has(s)).map((SnapshotId) => ({ SnapshotId })) };
    });
    mock.on(DeregisterImageCommand).callsFake((input) => {
        count("DeregisterImage");
        const image = fake.images.get(input.ImageId ?? "");
        if (!image)
            throw awsError("InvalidAMIID.NotFound", `The image id '[${input.ImageId}]' does not exist`);
        fake.images.delete(input.ImageId ?? "");
        for (const s of snapshotsOf(image)) users.set(s, (users.get(s) ?? 1) - 1);
        fake.deregistered.push(input.ImageId ?? "");
        const results = [];
        for (const m of image.BlockDeviceMappings ?? []) {
            const snap = m.Ebs?.SnapshotId ?? "";
            if (input.DeleteAssociatedSnapshots && fake.snapshots.has(snap) && !inUse(snap)) {
                fake.snapshots.delete(snap);
                fake.deletedSnapshots.push(snap);
                results.push({ SnapshotId: snap, ReturnCode: "success" as const });
            }
        }
        return { Return: true, DeleteSnapshotResults: results };
    });
    mock.on(DeleteSnapshotCommand).callsFake((input) => {
        count("DeleteSnapshot");
        const snap = input.SnapshotId ?? "";
        if (!fake.snapshots.has(snap)) throw awsError("InvalidSnapshot.NotFound");
        if (inUse(snap))
            throw awsError("InvalidSnapshot.InUse", `The snapshot ${snap} is currently in use by ami-x`);
        fake.snapshots.delete(snap);
        fake.deletedSnapshots.push(snap);
        return {};
    });
    return fake;
}
