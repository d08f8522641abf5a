// The esbuild artifacts `pulumi up` ships: each loads on its own and exposes a working handler.
import * as assert from "node:assert/strict";
import { bundleFunction } from "../../components/bundle";

describe("Lambda bundles", function () {
    this.timeout(60_000);
    for (const name of ["list-expired-images", "deregister-image", "delete-snapshots"]) {
        it(`${name} bundles with the SDK inside and validates its event`, async () => {
            const file = bundleFunction(name);
            const mod = require(file) as { handler: (e: unknown) => Promise<unknown> };
            const event =
                name === "list-expired-images" ? { valid_hours: 0 } : { image: { imageId: "nope" } };
            await assert.rejects(mod.handler(event), { name: "ImageJanitor.InvalidInput" });
        });
    }
});
