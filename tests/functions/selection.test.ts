// The keep-latest grouping: a name without its trailing version or timestamp, or a tag's value.
import * as assert from "node:assert/strict";
import { defaultGroup, groupOf } from "../../functions/core/ami/selection";

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
