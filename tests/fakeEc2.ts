// An in-process EC2 behind aws-sdk-client-mock, for what moto does not do, modelled as the EC2 API Reference and
// the EC2/EBS user guides document it:
// - DescribeImages pages (MaxResults/NextToken); by ImageIds it fails the whole call with InvalidAMIID.NotFound
//   naming the missing ids; without IncludeDisabled it leaves disabled AMIs out ("A disabled AMI does not appear in
//   DescribeImages API calls by default", DisableImage reference); an owner sees its deprecated AMIs always.
// - DeregisterImage honours DeleteAssociatedSnapshots (a snapshot another AMI uses is `skipped`) and refuses an AMI
//   with deregistration protection (the reference documents no error code: the fake uses one the product must not
//   rely on).
// - DisableImage sets `disabled` and removes every launch permission; EnableImage sets `available` and restores
//   none (DisableImage/EnableImage references).
// - A snapshot an AMI uses, disabled AMIs included, cannot be deleted: InvalidSnapshot.InUse naming the AMI.
// - Recycle Bin: a deleted AMI or snapshot is retained only if it carried a rule's tag when it was deleted; an AMI
//   cannot be restored before its snapshots are restored and `completed`; a restored snapshot is `recovering`
//   first (here: until the next DescribeSnapshots sees it); retention expires; tags of what is in the bin can be
//   read (DescribeTags) and changed (Recycle Bin user guide). ListImagesInRecycleBin takes at most 20 ids. Whether a
//   disabled AMI comes back disabled is not documented: the fake brings it back as it was, the harder case.
// - DryRun on every mutating call answers DryRunOperation.
import {
    CreateTagsCommand,
    DeleteSnapshotCommand,
    DeleteTagsCommand,
    DeregisterImageCommand,
    DescribeImageAttributeCommand,
    DescribeImagesCommand,
    type DescribeImagesCommandInput,
    type DescribeImagesCommandOutput,
    DescribeInstancesCommand,
    DescribeSnapshotsCommand,
    DescribeTagsCommand,
    DisableImageCommand,
    type EC2Client,
    EnableImageCommand,
    type Image,
    type LaunchPermission,
    ListImagesInRecycleBinCommand,
    ListSnapshotsInRecycleBinCommand,
    RestoreImageFromRecycleBinCommand,
    RestoreSnapshotFromRecycleBinCommand,
    type Snapshot,
    type Tag,
} from "@aws-sdk/client-ec2";
import type { AwsClientStub } from "aws-sdk-client-mock";
import { awsError } from "./helpers";

/** A Recycle Bin retention rule, as `aws.rbin.Rule` declares it. */
export interface BinRule {
    resourceType: "EC2_IMAGE" | "EBS_SNAPSHOT";
    tags: { key: string; value: string }[];
    retentionDays: number;
}

interface Binned<T> {
    item: T;
    enteredAt: Date;
    exitsAt: Date;
}

export interface FakeEc2 {
    images: Map<string, Image>;
    /** Snapshot id → the snapshot, with its tags. */
    snapshots: Map<string, Snapshot>;
    launchPermissions: Map<string, LaunchPermission[]>;
    bin: { images: Map<string, Binned<Image>>; snapshots: Map<string, Binned<Snapshot>> };
    rules: BinRule[];
    /** The fake's clock: a test moves it to let retention or a disable period pass. */
    now: () => Date;
    setNow(now: Date): void;
    /** Every DeregisterImage asked for, succeeded or not, in order. */
    deregisterAttempts: string[];
    /** Every DeregisterImage and DeleteSnapshot that succeeded, in order. */
    deregistered: string[];
    deletedSnapshots: string[];
    calls: Record<string, number>;
    /** ListImagesInRecycleBin fails a call naming an id the bin does not hold, as DescribeImages does (undocumented). */
    binListRefusesUnknownIds: boolean;
    /** EC2 honours DeregisterImage's DeleteAssociatedSnapshots; false behaves as moto and older endpoints do. */
    honoursDeleteAssociatedSnapshots: boolean;
    /** What DeregisterImage and DeleteSnapshot do: a test that intercepts a call can still carry it out. */
    deregister(input: { ImageId?: string; DeleteAssociatedSnapshots?: boolean; DryRun?: boolean }): unknown;
    removeSnapshot(input: { SnapshotId?: string; DryRun?: boolean }): unknown;
    /** What DescribeImages answers, uncounted: a test that intercepts a call can still answer it. */
    describeImages(input: DescribeImagesCommandInput): DescribeImagesCommandOutput;
}

/** The account the fake answers for: an image without an OwnerId is its own. */
export const FAKE_ACCOUNT = "123456789012";

const filterValues = (filters: { Name?: string; Values?: string[] }[] | undefined, name: string) =>
    filters?.find((f) => f.Name === name)?.Values;

/**
 * AMI `ami-0<n>`, made in January 2026, with one snapshot per size given (`snap-0<n>a`, `snap-0<n>b`, …): the
 * runner tests' account.
 */
export function appImage(n: number, sizes: number[], extra: Partial<Image> = {}): Image {
    return {
        ImageId: `ami-0${n}`,
        Name: `app-${n}`,
        State: "available",
        CreationDate: "2026-01-01T00:00:00.000Z",
        BlockDeviceMappings: sizes.map((VolumeSize, i) => ({
            DeviceName: `/dev/xvd${"abcdefgh"[i]}`,
            Ebs: { SnapshotId: `snap-0${n}${"abcdefgh"[i]}`, VolumeSize },
        })),
        ...extra,
    };
}

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

const snapshotsOf = (i: Image) =>
    (i.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId).filter((s): s is string => !!s);

function setTags(target: { Tags?: Tag[] }, tags: Tag[]) {
    const byKey = new Map((target.Tags ?? []).map((t) => [t.Key, t]));
    for (const t of tags) byKey.set(t.Key, { Key: t.Key, Value: t.Value ?? "" });
    target.Tags = [...byKey.values()];
}

function removeTags(target: { Tags?: Tag[] }, tags: Tag[]) {
    target.Tags = (target.Tags ?? []).filter(
        (t) => !tags.some((r) => r.Key === t.Key && (r.Value === undefined || r.Value === t.Value)),
    );
}

const dryRun = () => awsError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.");

export function installFakeEc2(mock: AwsClientStub<EC2Client>, images: Image[], at = new Date()): FakeEc2 {
    let now = at;
    const fake: FakeEc2 = {
        images: new Map(images.map((i) => [i.ImageId ?? "", structuredClone(i)])),
        snapshots: new Map(),
        launchPermissions: new Map(),
        bin: { images: new Map(), snapshots: new Map() },
        rules: [],
        now: () => now,
        setNow: (d) => {
            now = d;
        },
        deregisterAttempts: [],
        deregistered: [],
        deletedSnapshots: [],
        calls: {},
        honoursDeleteAssociatedSnapshots: true,
        binListRefusesUnknownIds: false,
        deregister: () => ({}),
        removeSnapshot: () => ({}),
        describeImages: () => ({ $metadata: {} }),
    };
    for (const i of images) {
        for (const m of i.BlockDeviceMappings ?? []) {
            const id = m.Ebs?.SnapshotId;
            if (id && !fake.snapshots.has(id))
                fake.snapshots.set(id, {
                    SnapshotId: id,
                    VolumeSize: m.Ebs?.VolumeSize ?? 8,
                    Description: `Created by CreateImage(i-0000000000000000a) for ${i.ImageId}`,
                    StartTime: new Date(i.CreationDate ?? at.toISOString()),
                    State: "completed",
                    Tags: [],
                });
        }
    }
    const count = (action: string) => {
        fake.calls[action] = (fake.calls[action] ?? 0) + 1;
    };
    // Snapshot id → the registered AMIs that use it, kept as images come and go.
    const users = new Map<string, Set<string>>();
    const indexImage = (i: Image, add: boolean) => {
        for (const snap of snapshotsOf(i)) {
            const set = users.get(snap) ?? new Set<string>();
            if (add) set.add(i.ImageId ?? "");
            else set.delete(i.ImageId ?? "");
            users.set(snap, set);
        }
    };
    for (const i of fake.images.values()) indexImage(i, true);
    const usersOf = (snap: string) => [...(users.get(snap) ?? [])];
    const expire = () => {
        for (const bin of [fake.bin.images, fake.bin.snapshots] as Map<string, Binned<unknown>>[])
            for (const [id, b] of bin) if (b.exitsAt <= now) bin.delete(id);
    };
    /** The retention a deleted resource gets: the longest of the rules whose tag it carries, if any. */
    const retention = (type: BinRule["resourceType"], tags: Tag[] | undefined) => {
        const days = fake.rules
            .filter((r) => r.resourceType === type)
            .filter((r) =>
                r.tags.some((t) => (tags ?? []).some((x) => x.Key === t.key && x.Value === t.value)),
            )
            .map((r) => r.retentionDays);
        return days.length ? Math.max(...days) : 0;
    };
    const toBin = <T>(bin: Map<string, Binned<T>>, id: string, item: T, days: number) => {
        if (days > 0)
            bin.set(id, { item, enteredAt: now, exitsAt: new Date(now.getTime() + days * 86_400_000) });
    };
    const deleteSnapshot = (snap: string) => {
        const s = fake.snapshots.get(snap);
        if (!s) return;
        fake.snapshots.delete(snap);
        fake.deletedSnapshots.push(snap);
        toBin(fake.bin.snapshots, snap, s, retention("EBS_SNAPSHOT", s.Tags));
    };

    mock.on(DescribeInstancesCommand).callsFake(() => {
        count("DescribeInstances");
        return { Reservations: [] };
    });
    fake.describeImages = (input) => {
        const owned = (i: Image) =>
            !input.Owners?.includes("self") || (i.OwnerId ?? FAKE_ACCOUNT) === FAKE_ACCOUNT;
        const visible = (i: Image) => owned(i) && (input.IncludeDisabled === true || i.State !== "disabled");
        let all: Image[];
        if (input.ImageIds) {
            const missing = input.ImageIds.filter((id: string) => !fake.images.has(id));
            if (missing.length > 0)
                throw awsError(
                    "InvalidAMIID.NotFound",
                    `The image id '[${missing.join(", ")}]' does not exist`,
                );
            all = input.ImageIds.map((id: string) => fake.images.get(id) as Image).filter(visible);
        } else {
            const ids = filterValues(input.Filters, "image-id");
            const states = filterValues(input.Filters, "state");
            const candidates = ids
                ? ids.map((id) => fake.images.get(id)).filter((i): i is Image => !!i)
                : [...fake.images.values()];
            all = candidates.filter(visible).filter((i) => !states || states.includes(i.State ?? ""));
        }
        const start = Number(input.NextToken ?? 0);
        const size = input.MaxResults ?? 1000;
        const page = all.slice(start, start + size).map((i) => ({ ...i }));
        return {
            $metadata: {},
            Images: page,
            NextToken: start + size < all.length ? String(start + size) : undefined,
        };
    };
    mock.on(DescribeImagesCommand).callsFake((input) => {
        count("DescribeImages");
        return fake.describeImages(input);
    });
    mock.on(DescribeImageAttributeCommand).callsFake((input) => {
        count("DescribeImageAttribute");
        if (!fake.images.has(input.ImageId ?? "")) throw awsError("InvalidAMIID.NotFound");
        return {
            ImageId: input.ImageId,
            LaunchPermissions: fake.launchPermissions.get(input.ImageId ?? "") ?? [],
        };
    });
    mock.on(DescribeSnapshotsCommand).callsFake((input) => {
        count("DescribeSnapshots");
        if (input.SnapshotIds) {
            const missing = input.SnapshotIds.filter((id: string) => !fake.snapshots.has(id));
            if (missing.length > 0)
                throw awsError(
                    "InvalidSnapshot.NotFound",
                    `The snapshot '${missing.join(", ")}' does not exist.`,
                );
        }
        let all = input.SnapshotIds
            ? input.SnapshotIds.map((id: string) => fake.snapshots.get(id) as Snapshot)
            : [...fake.snapshots.values()];
        const ids = filterValues(input.Filters, "snapshot-id");
        if (ids) all = all.filter((s: Snapshot) => ids.includes(s.SnapshotId ?? ""));
        const tagKeys = filterValues(input.Filters, "tag-key");
        if (tagKeys)
            all = all.filter((s: Snapshot) => (s.Tags ?? []).some((t) => tagKeys.includes(t.Key ?? "")));
        const start = Number(input.NextToken ?? 0);
        const size = input.MaxResults ?? 1000;
        const page = all.slice(start, start + size);
        const answer = page.map((s: Snapshot) => ({ ...s }));
        // A restored snapshot is `recovering` when first seen, `completed` from the next look on.
        for (const s of page) if (s.State === "recovering") s.State = "completed";
        return { Snapshots: answer, NextToken: start + size < all.length ? String(start + size) : undefined };
    });
    /** A registered resource or one in the bin: tags can be read and changed in both. */
    const tagged = (id: string): { Tags?: Tag[] } | undefined =>
        id.startsWith("ami-")
            ? (fake.images.get(id) ?? fake.bin.images.get(id)?.item)
            : (fake.snapshots.get(id) ?? fake.bin.snapshots.get(id)?.item);
    mock.on(DescribeTagsCommand).callsFake((input) => {
        count("DescribeTags");
        expire();
        const ids = filterValues(input.Filters, "resource-id");
        const keys = filterValues(input.Filters, "key");
        const values = filterValues(input.Filters, "value");
        const types = filterValues(input.Filters, "resource-type");
        const all: { ResourceId: string; ResourceType: string; Key: string; Value: string }[] = [];
        const resources = [
            ...[...fake.images.keys(), ...fake.bin.images.keys()].map((id) => [id, "image"] as const),
            ...[...fake.snapshots.keys(), ...fake.bin.snapshots.keys()].map(
                (id) => [id, "snapshot"] as const,
            ),
        ];
        for (const [id, type] of resources) {
            if ((ids && !ids.includes(id)) || (types && !types.includes(type))) continue;
            for (const t of tagged(id)?.Tags ?? []) {
                if ((keys && !keys.includes(t.Key ?? "")) || (values && !values.includes(t.Value ?? "")))
                    continue;
                all.push({ ResourceId: id, ResourceType: type, Key: t.Key ?? "", Value: t.Value ?? "" });
            }
        }
        const start = Number(input.NextToken ?? 0);
        const size = input.MaxResults ?? 1000;
        return {
            Tags: all.slice(start, start + size),
            NextToken: start + size < all.length ? String(start + size) : undefined,
        };
    });
    mock.on(CreateTagsCommand).callsFake((input) => {
        count("CreateTags");
        if (input.DryRun) throw dryRun();
        for (const id of input.Resources ?? []) {
            const target = tagged(id);
            if (!target)
                throw awsError(
                    id.startsWith("ami-") ? "InvalidAMIID.NotFound" : "InvalidSnapshot.NotFound",
                    `The ID '${id}' does not exist`,
                );
            setTags(target, input.Tags ?? []);
        }
        return {};
    });
    mock.on(DeleteTagsCommand).callsFake((input) => {
        count("DeleteTags");
        if (input.DryRun) throw dryRun();
        for (const id of input.Resources ?? []) {
            const target = tagged(id);
            if (target) removeTags(target, input.Tags ?? []);
        }
        return {};
    });
    mock.on(DisableImageCommand).callsFake((input) => {
        count("DisableImage");
        if (input.DryRun) throw dryRun();
        const image = fake.images.get(input.ImageId ?? "");
        if (!image)
            throw awsError("InvalidAMIID.NotFound", `The image id '[${input.ImageId}]' does not exist`);
        image.State = "disabled";
        image.Public = false;
        fake.launchPermissions.delete(input.ImageId ?? "");
        return { Return: true };
    });
    mock.on(EnableImageCommand).callsFake((input) => {
        count("EnableImage");
        if (input.DryRun) throw dryRun();
        const image = fake.images.get(input.ImageId ?? "");
        if (!image)
            throw awsError("InvalidAMIID.NotFound", `The image id '[${input.ImageId}]' does not exist`);
        image.State = "available";
        return { Return: true };
    });
    fake.deregister = (input) => {
        fake.deregisterAttempts.push(input.ImageId ?? "");
        const image = fake.images.get(input.ImageId ?? "");
        if (!image)
            throw awsError("InvalidAMIID.NotFound", `The image id '[${input.ImageId}]' does not exist`);
        if (input.DryRun) throw dryRun();
        if ((image.DeregistrationProtection ?? "disabled") !== "disabled")
            throw awsError(
                "OperationNotPermitted",
                `The image ${input.ImageId} has deregistration protection.`,
            );
        fake.images.delete(input.ImageId ?? "");
        indexImage(image, false);
        fake.launchPermissions.delete(input.ImageId ?? "");
        fake.deregistered.push(input.ImageId ?? "");
        toBin(fake.bin.images, input.ImageId ?? "", image, retention("EC2_IMAGE", image.Tags));
        const results = [];
        if (input.DeleteAssociatedSnapshots && fake.honoursDeleteAssociatedSnapshots) {
            for (const snap of snapshotsOf(image)) {
                if (!fake.snapshots.has(snap)) continue;
                if (usersOf(snap).length > 0) {
                    results.push({ SnapshotId: snap, ReturnCode: "skipped" as const });
                    continue;
                }
                deleteSnapshot(snap);
                results.push({ SnapshotId: snap, ReturnCode: "success" as const });
            }
        }
        return {
            Return: true,
            ...(input.DeleteAssociatedSnapshots ? { DeleteSnapshotResults: results } : {}),
        };
    };
    mock.on(DeregisterImageCommand).callsFake((input) => {
        count("DeregisterImage");
        return fake.deregister(input);
    });
    fake.removeSnapshot = (input) => {
        const snap = input.SnapshotId ?? "";
        if (!fake.snapshots.has(snap))
            throw awsError("InvalidSnapshot.NotFound", `The snapshot '${snap}' does not exist.`);
        const inUseBy = usersOf(snap);
        if (inUseBy.length > 0)
            throw awsError(
                "InvalidSnapshot.InUse",
                `The snapshot ${snap} is currently in use by ${inUseBy[0]}`,
            );
        if (input.DryRun) throw dryRun();
        deleteSnapshot(snap);
        return {};
    };
    mock.on(DeleteSnapshotCommand).callsFake((input) => {
        count("DeleteSnapshot");
        return fake.removeSnapshot(input);
    });
    mock.on(ListImagesInRecycleBinCommand).callsFake((input) => {
        count("ListImagesInRecycleBin");
        expire();
        if ((input.ImageIds?.length ?? 0) > 20)
            throw awsError("InvalidParameterValue", "The maximum number of image IDs is 20.");
        const unknown = (input.ImageIds ?? []).filter((id: string) => !fake.bin.images.has(id));
        if (fake.binListRefusesUnknownIds && unknown.length > 0)
            throw awsError("InvalidAMIID.NotFound", `The image id '[${unknown.join(", ")}]' does not exist`);
        const all = [...fake.bin.images.entries()].filter(
            ([id]) => !input.ImageIds || input.ImageIds.includes(id),
        );
        const start = Number(input.NextToken ?? 0);
        const size = input.MaxResults ?? 1000;
        return {
            Images: all.slice(start, start + size).map(([id, b]) => ({
                ImageId: id,
                Name: b.item.Name,
                Description: b.item.Description,
                RecycleBinEnterTime: b.enteredAt,
                RecycleBinExitTime: b.exitsAt,
            })),
            NextToken: start + size < all.length ? String(start + size) : undefined,
        };
    });
    mock.on(ListSnapshotsInRecycleBinCommand).callsFake((input) => {
        count("ListSnapshotsInRecycleBin");
        expire();
        const all = [...fake.bin.snapshots.entries()].filter(
            ([id]) => !input.SnapshotIds || input.SnapshotIds.includes(id),
        );
        const start = Number(input.NextToken ?? 0);
        const size = input.MaxResults ?? 1000;
        return {
            Snapshots: all.slice(start, start + size).map(([id, b]) => ({
                SnapshotId: id,
                Description: b.item.Description,
                VolumeId: "vol-ffffffff",
                RecycleBinEnterTime: b.enteredAt,
                RecycleBinExitTime: b.exitsAt,
            })),
            NextToken: start + size < all.length ? String(start + size) : undefined,
        };
    });
    mock.on(RestoreSnapshotFromRecycleBinCommand).callsFake((input) => {
        count("RestoreSnapshotFromRecycleBin");
        expire();
        const id = input.SnapshotId ?? "";
        const b = fake.bin.snapshots.get(id);
        if (!b) throw awsError("InvalidSnapshot.NotFound", `The snapshot '${id}' does not exist.`);
        if (input.DryRun) throw dryRun();
        fake.bin.snapshots.delete(id);
        fake.snapshots.set(id, { ...b.item, State: "recovering" });
        return { SnapshotId: id, State: "recovering" };
    });
    mock.on(RestoreImageFromRecycleBinCommand).callsFake((input) => {
        count("RestoreImageFromRecycleBin");
        expire();
        const id = input.ImageId ?? "";
        const b = fake.bin.images.get(id);
        if (!b) throw awsError("InvalidAMIID.NotFound", `The image id '[${id}]' does not exist`);
        if (input.DryRun) throw dryRun();
        const stillBinned = snapshotsOf(b.item).filter((s) => fake.snapshots.get(s)?.State !== "completed");
        if (stillBinned.length > 0)
            // The Recycle Bin guide: restore an AMI's snapshots before the AMI. No error code is documented.
            throw awsError(
                "IncorrectState",
                `Restore the snapshots ${stillBinned.join(", ")} of ${id} first.`,
            );
        fake.bin.images.delete(id);
        const restored = { ...b.item };
        fake.images.set(id, restored);
        indexImage(restored, true);
        return { Return: true };
    });
    return fake;
}
