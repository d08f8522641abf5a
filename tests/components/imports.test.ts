// Imports point one way: the Pulumi program (index.ts, components/) loads no AWS SDK client while it runs, so
// `pulumi preview` stays small and fast. Run in a fresh process: the test process itself has loaded the SDKs.
import * as assert from "node:assert/strict";
import { runProgramProbe } from "../helpers";

const PROBE = `
const pulumi = require("@pulumi/pulumi");
pulumi.runtime.setMocks({
    newResource: (a) => ({ id: a.name + "-id", state: { ...a.inputs, name: a.name, arn: "arn:aws:mock:us-east-1:123456789012:" + a.name } }),
    call: (a) => a.token === "aws:index/getPartition:getPartition" ? { partition: "aws" }
        : a.token === "aws:index/getRegion:getRegion" ? { name: "us-east-1", region: "us-east-1" } : { accountId: "123456789012" },
}, "image-janitor", "imports", false);
const program = require("./index.ts");
pulumi.all([program.stateMachineArns, program.repositoryUrl]).apply(() => setTimeout(() => {
    const sdks = Object.keys(require.cache)
        .map((f) => /node_modules[\\\\/](@aws-sdk[\\\\/]client-ec[2r])[\\\\/]/.exec(f)?.[1])
        .filter(Boolean);
    console.log(JSON.stringify({ sdks: [...new Set(sdks)].sort(), settings: require.resolve("./functions/core/ami/settings.ts") in require.cache }));
}, 300));
`;

describe("the Pulumi program's imports", function () {
    this.timeout(60_000);
    for (const mode of ["dynamic", "cloudformation"]) {
        it(`loads neither the EC2 nor the ECR SDK (ecrEmptyMode ${mode})`, () => {
            const result = runProgramProbe(PROBE, {
                "aws:region": "us-east-1",
                "image-janitor:ecrEmptyMode": mode,
            });
            assert.deepEqual(result, { sdks: [], settings: true });
        });
    }
});
