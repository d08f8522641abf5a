// emptyRepository against moto server: a repository of more than 1,000 images, some multi-tagged, some untagged.
import * as assert from "node:assert/strict";
import { CreateRepositoryCommand, type ECR, ListImagesCommand } from "@aws-sdk/client-ecr";
import { emptyRepository } from "../../functions/core/ecr/empty";
import { type Moto, motoEcr, startMoto } from "../../runner/moto";
import { pushTestImages } from "../ecrImages";

describe("emptyRepository against moto server", function () {
    this.timeout(180_000);
    let moto: Moto;
    let ecr: ECR;

    before(async () => {
        moto = await startMoto();
        ecr = motoEcr(moto.endpoint);
    });
    after(async () => moto?.stop());

    it("empties a repository of 1,100 images in 1,384 entries: multi-tagged and untagged", async () => {
        await ecr.send(new CreateRepositoryCommand({ repositoryName: "big" }));
        // every 10th image untagged, every 7th with three tags, the rest with one
        const entries = await pushTestImages(ecr, "big", 1100, (n) =>
            n % 10 === 0 ? 0 : n % 7 === 0 ? 3 : 1,
        );
        const listed = (await ecr.send(new ListImagesCommand({ repositoryName: "big" }))).imageIds ?? [];
        assert.equal(listed.length, entries);
        assert.equal(entries, 1384);
        const result = await emptyRepository(ecr, { repositoryName: "big" });
        assert.deepEqual(result, {
            repositoryName: "big",
            deleted: 1100,
            alreadyGone: 0,
            repositoryMissing: false,
        });
        assert.deepEqual((await ecr.send(new ListImagesCommand({ repositoryName: "big" }))).imageIds, []);
    });

    it("treats a repository that does not exist as already empty", async () => {
        assert.equal(
            (await emptyRepository(ecr, { repositoryName: "never-created" })).repositoryMissing,
            true,
        );
    });
});
