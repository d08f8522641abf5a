// Test fixture: distinct images pushed to an ECR repository (moto derives each digest from its manifest's layers).
import { createHash } from "node:crypto";
import { type ECR, PutImageCommand } from "@aws-sdk/client-ecr";

/** A Docker v2 manifest whose layer digest is unique to `n`: moto derives the image digest from the layers. */
export function testManifest(n: number): string {
    const hex = (x: number, salt: string) => createHash("sha256").update(`${salt}-${x}`).digest("hex");
    return JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.docker.distribution.manifest.v2+json",
        config: {
            mediaType: "application/vnd.docker.container.image.v1+json",
            size: 100,
            digest: `sha256:${hex(n, "config")}`,
        },
        layers: [
            {
                mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
                size: 1000,
                digest: `sha256:${hex(n, "layer")}`,
            },
        ],
    });
}

/**
 * Pushes `count` distinct images: image n gets `tagsPer(n)` tags (0 leaves it untagged). Returns how many
 * ListImages entries (one per tag, one for an untagged image) the repository then holds.
 */
export async function pushTestImages(
    ecr: ECR,
    repositoryName: string,
    count: number,
    tagsPer: (n: number) => number,
): Promise<number> {
    let entries = 0;
    for (let n = 0; n < count; n++) {
        const manifest = testManifest(n);
        const tags = tagsPer(n);
        if (tags === 0) {
            await ecr.send(new PutImageCommand({ repositoryName, imageManifest: manifest }));
            entries += 1;
        }
        for (let t = 0; t < tags; t++) {
            await ecr.send(
                new PutImageCommand({ repositoryName, imageManifest: manifest, imageTag: `v${n}-${t}` }),
            );
            entries += 1;
        }
    }
    return entries;
}
