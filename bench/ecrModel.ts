// An in-process ECR repository that behaves as AWS documents where moto does not: ListImages pages at most 1000
// entries (one per tag), and BatchDeleteImage refuses more than 100 ids. The benchmark counts calls against it.
import {
    BatchDeleteImageCommand,
    type BatchDeleteImageCommandInput,
    ECR,
    ListImagesCommand,
    type ListImagesCommandInput,
} from "@aws-sdk/client-ecr";
import { mockClient } from "aws-sdk-client-mock";

export interface EcrModel {
    ecr: ECR;
    entries: number;
    digests: number;
    calls: Record<string, number>;
    remaining(): number;
    restore(): void;
}

const invalid = (message: string) => Object.assign(new Error(message), { name: "InvalidParameterException" });

/** `digests` images; image n has `tagsOf(n)` tags (0: untagged, one entry). */
export function ecrModel(repositoryName: string, digests: number, tagsOf: (n: number) => number): EcrModel {
    const rows: { imageDigest: string; imageTag?: string }[] = [];
    for (let n = 0; n < digests; n++) {
        const imageDigest = `sha256:${n.toString(16).padStart(64, "0")}`;
        const tags = tagsOf(n);
        if (tags === 0) rows.push({ imageDigest });
        for (let t = 0; t < tags; t++) rows.push({ imageDigest, imageTag: `v${n}-${t}` });
    }
    const ecr = new ECR({
        region: "us-east-1",
        credentials: { accessKeyId: "x", secretAccessKey: "x" },
    });
    const mock = mockClient(ecr);
    const calls: Record<string, number> = {};
    let live = rows;
    mock.on(ListImagesCommand).callsFake((input: ListImagesCommandInput) => {
        calls.ListImages = (calls.ListImages ?? 0) + 1;
        if (input.repositoryName !== repositoryName) throw invalid("unknown repository");
        const size = input.maxResults ?? 100;
        if (size < 1 || size > 1000) throw invalid("maxResults must be 1 to 1000");
        const start = Number(input.nextToken ?? 0);
        const end = start + size;
        return { imageIds: live.slice(start, end), nextToken: end < live.length ? String(end) : undefined };
    });
    mock.on(BatchDeleteImageCommand).callsFake((input: BatchDeleteImageCommandInput) => {
        calls.BatchDeleteImage = (calls.BatchDeleteImage ?? 0) + 1;
        const ids = input.imageIds ?? [];
        if (ids.length > 100) throw invalid(`imageIds has ${ids.length} members; at most 100 are allowed`);
        const gone = new Set(ids.map((i) => i.imageDigest));
        const deleted = live.filter((r) => gone.has(r.imageDigest));
        live = live.filter((r) => !gone.has(r.imageDigest));
        return { imageIds: deleted, failures: [] };
    });
    return {
        ecr,
        entries: rows.length,
        digests,
        calls,
        remaining: () => live.length,
        restore: () => mock.restore(),
    };
}
