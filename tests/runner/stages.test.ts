// Disable first, through the runner on the in-process EC2 (which models DisableImage, EnableImage and
// DescribeImages' IncludeDisabled as the EC2 API Reference documents them): a run disables and tags, later runs
// wait disableForHours on the fake clock, then delete; a user's EnableImage is obeyed from then on; a dry run
// says what it would disable apart from what it would delete; a run cut between DisableImage and its tag leaves
// nothing a later run cannot finish.
import * as assert from "node:assert/strict";
import { CreateTagsCommand, EC2Client, type Image } from "@aws-sdk/client-ec2";
import { settingsWith } from "../../functions/core/ami/settings";
import { runCleanup } from "../../runner/run";
import { appImage, type FakeEc2, installFakeEc2 } from "../fakeEc2";
import { awsError, mockedClients, useClientMock, useLookupMocks } from "../helpers";

const T0 = new Date("2026-11-22T12:00:00.000Z");
const hours = (n: number) => new Date(T0.getTime() + n * 3_600_000);
const image = (n: number, extra: Partial<Image> = {}) => appImage(n, [8], extra);
const tagsOf = (fake: FakeEc2, id: string) =>
    Object.fromEntries((fake.images.get(id)?.Tags ?? []).map((t) => [t.Key, t.Value]));

describe("disable first, through the runner", () => {
    const ec2 = useClientMock(EC2Client);
    useLookupMocks(ec2);
    let fake: FakeEc2;
    const run = (changes = {}) =>
        runCleanup({
            clients: mockedClients(),
            now: () => fake.now(),
            retryIntervalMs: 0,
            backoff: { baseMs: 1, capMs: 1 },
            settings: settingsWith({ validHours: 24, protectInUse: false, disableForHours: 48, ...changes }),
        });

    it("disables and tags first, waits disableForHours, then deletes the AMI and its snapshots", async () => {
        fake = installFakeEc2(ec2(), [image(1), image(2)], T0);
        const first = await run();
        assert.deepEqual(first.disabled, [
            { imageId: "ami-01", disabledAt: T0.toISOString() },
            { imageId: "ami-02", disabledAt: T0.toISOString() },
        ]);
        assert.deepEqual(first.deleted, []);
        for (const id of ["ami-01", "ami-02"]) {
            assert.equal(fake.images.get(id)?.State, "disabled");
            assert.deepEqual(tagsOf(fake, id), { "image-janitor:disabled-at": T0.toISOString() });
        }
        assert.deepEqual(fake.deregistered, []);

        // Within the wait: kept, with the time it will be deleted; nothing is disabled again.
        fake.setNow(hours(47));
        const waiting = await run();
        assert.deepEqual(
            waiting.skipped.map((s) => [s.imageId, s.reason]),
            [
                ["ami-01", `disabled-until ${hours(48).toISOString()}`],
                ["ami-02", `disabled-until ${hours(48).toISOString()}`],
            ],
        );
        assert.deepEqual([waiting.disabled, waiting.deleted, fake.calls.DisableImage], [[], [], 2]);

        fake.setNow(hours(48));
        const last = await run();
        assert.deepEqual(last.deleted, [
            { imageId: "ami-01", snapshotIds: ["snap-01a"] },
            { imageId: "ami-02", snapshotIds: ["snap-02a"] },
        ]);
        assert.deepEqual([fake.deregistered, [...fake.snapshots.keys()]], [["ami-01", "ami-02"], []]);
    });

    it("obeys a user's EnableImage: the AMI is kept as re-enabled by every later run, until they remove the tag", async () => {
        fake = installFakeEc2(ec2(), [image(1)], T0);
        await run();
        fake.images.set("ami-01", { ...(fake.images.get("ami-01") as Image), State: "available" }); // EnableImage
        for (const at of [49, 500, 5000]) {
            fake.setNow(hours(at));
            const later = await run();
            assert.deepEqual(later.skipped, [{ imageId: "ami-01", reason: "re-enabled" }], `${at} h`);
        }
        // Even with disableForHours off, or lowered: the user's choice stands.
        assert.deepEqual((await run({ disableForHours: 0 })).skipped, [
            { imageId: "ami-01", reason: "re-enabled" },
        ]);
        assert.deepEqual([fake.calls.DisableImage, fake.deregistered], [1, []]);
        // Without the cleanup's tag it is an ordinary AMI again, and the stages start over.
        fake.images.set("ami-01", { ...(fake.images.get("ami-01") as Image), Tags: [] });
        const again = await run();
        assert.deepEqual(
            again.disabled.map((d) => d.imageId),
            ["ami-01"],
        );
    });

    it("treats an AMI someone else disabled as any other: tagged now, deleted disableForHours later", async () => {
        fake = installFakeEc2(ec2(), [image(1, { State: "disabled" })], T0);
        const first = await run();
        assert.deepEqual(first.disabled, [{ imageId: "ami-01", disabledAt: T0.toISOString() }]);
        assert.equal(fake.calls.DisableImage ?? 0, 0, "already disabled: only tagged");
        fake.setNow(hours(48));
        assert.deepEqual(
            (await run()).deleted.map((d) => d.imageId),
            ["ami-01"],
        );
        // With disableForHours off, a disabled AMI is deleted at once by the ordinary rules.
        fake = installFakeEc2(ec2(), [image(2, { State: "disabled" })], T0);
        assert.deepEqual(
            (await run({ disableForHours: 0 })).deleted.map((d) => d.imageId),
            ["ami-02"],
        );
    });

    it("reports a dry run's disables apart from its deletions, and changes nothing", async () => {
        fake = installFakeEc2(
            ec2(),
            [
                image(1),
                image(2, {
                    State: "disabled",
                    Tags: [{ Key: "image-janitor:disabled-at", Value: hours(-72).toISOString() }],
                }),
            ],
            T0,
        );
        const dry = await run({ dryRun: true });
        assert.deepEqual(dry.wouldDisable, [{ imageId: "ami-01" }]);
        assert.deepEqual(dry.wouldDelete, [{ imageId: "ami-02", snapshotIds: ["snap-02a"] }]);
        assert.deepEqual([dry.disabled, dry.deleted], [[], []]);
        assert.equal(fake.images.get("ami-01")?.State, "available");
        assert.deepEqual(fake.deregistered, []);
    });

    it("finishes a run cut between DisableImage and its tag: the next run tags it, and its wait starts then", async () => {
        fake = installFakeEc2(ec2(), [image(1)], T0);
        // This run's CreateTags is refused, which leaves the AMI as a crash would: after DisableImage, before the tag.
        ec2()
            .on(CreateTagsCommand)
            .rejects(awsError("UnauthorizedOperation", "You are not authorized to perform this operation."));
        const cut = await run();
        assert.deepEqual(
            cut.failed.map((f) => f.imageId),
            ["ami-01"],
        );
        // Disabled but untagged: never an available AMI with the tag, which would read as re-enabled.
        assert.deepEqual([fake.images.get("ami-01")?.State, tagsOf(fake, "ami-01")], ["disabled", {}]);

        // The same account an hour later, CreateTags answered again.
        const left = fake.images;
        fake = installFakeEc2(ec2(), [], hours(1));
        fake.images = left;
        const next = await run();
        assert.deepEqual(next.disabled, [{ imageId: "ami-01", disabledAt: hours(1).toISOString() }]);
        assert.deepEqual(next.failed, []);
    });
});
