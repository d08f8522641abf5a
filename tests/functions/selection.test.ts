// The keep-latest grouping: a name without its trailing version or timestamp, or a tag's value.
import * as assert from "node:assert/strict";
import { defaultGroup, groupOf, imageKeepReason, stageOf } from "../../functions/core/ami/selection";
import { settingsWith } from "../../functions/core/ami/settings";

describe("AMI groups", () => {
    for (const [name, group] of [
        ["web-20261101-1200", "web"],
        ["web-20261102-0900", "web"],
        ["app-v1.2.3", "app"],
        ["batch_nightly_42", "batch_nightly"],
        ["base-2026-11-01T12:00:00Z", "base"],
        ["ubuntu-22.04-build-17", "ubuntu-22.04-build"],
        ["batch-nightly", "batch-nightly"],
        ["20261101", "20261101"],
    ]) {
        it(`puts ${JSON.stringify(name)} in group ${JSON.stringify(group)}`, () => {
            assert.equal(defaultGroup(name), group);
        });
    }

    it("groups by a tag's value when asked, with untagged AMIs in a group of their own", () => {
        const ami = (tags: Record<string, string>) => ({
            imageId: "ami-1",
            name: "web-1",
            creationDate: "",
            tags,
            snapshotIds: [],
            sizeGiB: 0,
        });
        assert.equal(groupOf(ami({ app: "shop" }), "app"), "tag:shop");
        assert.equal(groupOf(ami({}), "app"), "tag:");
        assert.equal(groupOf(ami({ app: "shop" }), ""), "name:web");
    });
});

describe("the stages' keep rules", () => {
    const NOW = new Date("2026-11-22T12:00:00.000Z");
    const rules = settingsWith({ validHours: 24, disableForHours: 24 });
    const at = (hoursAgo: number) => new Date(NOW.getTime() - hoursAgo * 3_600_000).toISOString();
    const ami = (state: string, tags: Record<string, string>) => ({
        state,
        tags,
        protected: false,
        public: false,
    });

    it("waits exactly disableForHours after the cleanup disabled an AMI, then lets it go", () => {
        const disabled = (h: number) => ami("disabled", { "image-janitor:disabled-at": at(h) });
        assert.equal(imageKeepReason(disabled(23), rules, NOW), `disabled-until ${at(-1)}`);
        assert.equal(imageKeepReason(disabled(24), rules, NOW), undefined);
        assert.equal(stageOf(disabled(24), rules), "delete");
        assert.equal(
            stageOf(ami("disabled", {}), rules),
            "disable",
            "disabled by someone else: tagged first",
        );
        assert.equal(stageOf(ami("available", {}), settingsWith({ validHours: 24 })), "delete");
    });

    it("keeps, naming the value, an AMI whose disabled-at tag it cannot read, and obeys restored and re-enabled", () => {
        assert.equal(
            imageKeepReason(ami("disabled", { "image-janitor:disabled-at": "last tuesday" }), rules, NOW),
            "disabled-at-unreadable last tuesday",
        );
        assert.equal(
            imageKeepReason(ami("available", { "image-janitor:disabled-at": at(99) }), rules, NOW),
            "re-enabled",
        );
        assert.equal(
            imageKeepReason(ami("disabled", { "image-janitor:restored-at": at(1) }), rules, NOW),
            "restored",
        );
        // The keep tag still comes first.
        assert.equal(
            imageKeepReason(
                ami("available", { "image-janitor:keep": "yes", "image-janitor:restored-at": at(1) }),
                rules,
                NOW,
            ),
            "keep-tag",
        );
    });
});
