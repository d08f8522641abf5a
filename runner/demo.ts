// `npm run demo`: the try-it-now path. Starts moto, seeds AMIs of mixed ages, dry-runs, cleans up, shows what is left.
import { DescribeImagesCommand, DescribeSnapshotsCommand } from "@aws-sdk/client-ec2";
import { settingsWith } from "../functions/core/ami/settings";
import { hoursAgo, MOTO_ACCOUNT_ID, motoClients, type SeedAmi, startMoto } from "./moto";
import { renderSummary } from "./report";
import { runCleanup } from "./run";

const VALID_HOURS = 24;

const seed = (
    id: string,
    name: string,
    hours: number,
    owner = MOTO_ACCOUNT_ID,
    tags?: Record<string, string>,
): SeedAmi => ({
    ami_id: id,
    name,
    owner_id: owner,
    creation_date: hoursAgo(hours),
    state: "available",
    ...(tags ? { tags } : {}),
});

export const DEMO_AMIS: SeedAmi[] = [
    seed("ami-0de0000000000001a", "web-20261101", 21 * 24),
    seed("ami-0de0000000000002b", "web-20261120", 73),
    seed("ami-0de0000000000003c", "web-20261122", 2),
    seed("ami-0de0000000000004d", "batch-nightly", 25),
    seed("ami-0de0000000000005e", "batch-nightly-today", 23),
    seed("ami-0de0000000000006f", "someone-elses-image", 500, "210987654321"),
    seed("ami-0de00000000000070", "golden-base", 24 * 90, MOTO_ACCOUNT_ID, { "image-janitor:keep": "true" }),
];

async function main(): Promise<void> {
    process.stdout.write(
        `Starting a local AWS emulator (moto) with ${DEMO_AMIS.length} AMIs; validHours is ${VALID_HOURS}.\n\n`,
    );
    const moto = await startMoto({ amis: DEMO_AMIS });
    try {
        const clients = motoClients(moto.endpoint);
        const { ec2 } = clients;
        process.stdout.write(
            renderSummary(
                await runCleanup({
                    clients,
                    settings: settingsWith({ validHours: VALID_HOURS, dryRun: true }),
                }),
            ),
        );
        process.stdout.write("\n");
        process.stdout.write(
            renderSummary(await runCleanup({ clients, settings: settingsWith({ validHours: VALID_HOURS }) })),
        );
        const images = (await ec2.send(new DescribeImagesCommand({ Owners: ["self"] }))).Images ?? [];
        const snapshots =
            (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"] }))).Snapshots ?? [];
        process.stdout.write(`\nKept ${images.length} of the account's AMIs:\n`);
        for (const i of images) process.stdout.write(`  ${i.ImageId}  ${i.Name}  ${i.CreationDate}\n`);
        process.stdout.write(`${snapshots.length} snapshots remain in the emulator.\n`);
    } finally {
        await moto.stop();
    }
}

if (require.main === module) {
    main().catch((err) => {
        process.stderr.write(`demo failed: ${(err as Error).message}\n`);
        process.exitCode = 1;
    });
}
