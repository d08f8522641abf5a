// Looking a batch's AMIs up again just before deleting them: what the listing saw may have changed since. By
// ImageIds (a cheap lookup, unlike a filter that scans the account), with every disabled AMI included.
import {
    DescribeImageAttributeCommand,
    DescribeImagesCommand,
    type EC2Client,
    type Image,
} from "@aws-sdk/client-ec2";
import { calling, errorMessage, errorName, IMAGE_ID_UNKNOWN, wrapAwsError } from "../shared/errors";
import { type Account, candidateOf } from "./listing";
import { CANDIDATE_STATES, type Candidate } from "./selection";

/** An AMI as the re-check sees it. */
export type Current = Omit<Candidate, "imageId" | "name" | "creationDate">;

/** DescribeImages takes the batch's ids in one call; EC2 advises at most 1,000 ids a call. */
const IDS_PER_CALL = 200;
const AMI_ID = /ami-[0-9a-z]+/g;

/** The AMIs EC2 describes, or the ids it says are gone. */
async function describe(
    ec2: EC2Client,
    ids: string[],
    subject: string,
): Promise<Image[] | { gone: string[] }> {
    try {
        const res = await ec2.send(
            new DescribeImagesCommand({ ImageIds: ids, Owners: ["self"], IncludeDisabled: true }),
        );
        return res.Images ?? [];
    } catch (err) {
        if (IMAGE_ID_UNKNOWN.has(errorName(err))) return { gone: errorMessage(err).match(AMI_ID) ?? [] };
        throw wrapAwsError(subject, "DescribeImages", err);
    }
}

/**
 * The batch's AMIs as EC2 describes them now; gone ones are absent. EC2 fails the whole call when one id is gone
 * (InvalidAMIID.NotFound names the ids), so those are taken out and the rest asked again.
 */
export async function currentImages(ec2: EC2Client, ids: string[]): Promise<Map<string, Current>> {
    const found = new Map<string, Current>();
    for (let i = 0; i < ids.length; i += IDS_PER_CALL) {
        let ask = ids.slice(i, i + IDS_PER_CALL);
        const subject = `re-checking ${ask[0]} and the rest of its batch`;
        while (ask.length > 0) {
            const result = await describe(ec2, ask, subject);
            if (Array.isArray(result)) {
                for (const image of result) add(found, image);
                break;
            }
            const gone = new Set(result.gone);
            const rest = ask.filter((id) => !gone.has(id));
            if (rest.length === ask.length) {
                // The message named none of the ids it refused: ask one at a time.
                for (const id of ask) {
                    const one = await describe(ec2, [id], subject);
                    if (Array.isArray(one)) for (const image of one) add(found, image);
                }
                break;
            }
            ask = rest;
        }
    }
    return found;
}

function add(found: Map<string, Current>, image: Image) {
    if (image.ImageId) found.set(image.ImageId, candidateOf(image));
}

/**
 * A listing made while a page deletes can miss AMIs it should hold: EC2 does not say that DescribeImages' pages
 * stay consistent while images are deregistered between them. The AMIs after `after` (the deleting page's cursor:
 * the pages still to come) that `previous`, the run's earlier listing, holds and `fresh` lacks are looked up by
 * ImageIds, and those EC2 still describes as candidates join `fresh`. An AMI missing before the cursor is either
 * being deleted or was kept by an earlier page; its absence can only make keepLatest keep more. Returns how many
 * were missing and how many joined.
 */
export async function fillListingGaps(
    ec2: EC2Client,
    fresh: Account,
    previous: Account,
    after: string,
): Promise<{ missing: number; restored: number }> {
    const missing = previous.candidates.filter((c) => c.imageId > after && !fresh.imageIds.has(c.imageId));
    if (missing.length === 0) return { missing: 0, restored: 0 };
    const current = await currentImages(
        ec2,
        missing.map((c) => c.imageId),
    );
    let restored = 0;
    for (const old of missing) {
        const now = current.get(old.imageId);
        if (!now) continue;
        fresh.imageIds.add(old.imageId);
        for (const s of now.snapshotIds) fresh.snapshotsInUse.add(s);
        if (!CANDIDATE_STATES.has(now.state)) continue;
        // Name and creation date never change; the rest is as EC2 describes it now.
        fresh.candidates.push({
            imageId: old.imageId,
            name: old.name,
            creationDate: old.creationDate,
            ...now,
        });
        restored += 1;
    }
    return { missing: missing.length, restored };
}

/**
 * Whom the AMI is shared with, as a keep reason: another account, an organization or an OU. Public AMIs are the
 * `public` rule's; EC2 reports them here as the group `all`.
 */
export async function sharedWith(ec2: EC2Client, imageId: string): Promise<string | undefined> {
    const res = await calling(imageId, "DescribeImageAttribute", () =>
        ec2.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: "launchPermission" })),
    );
    for (const p of res.LaunchPermissions ?? []) {
        if (p.UserId) return `shared:account ${p.UserId}`;
        if (p.OrganizationArn) return `shared:organization ${p.OrganizationArn}`;
        if (p.OrganizationalUnitArn) return `shared:organizational-unit ${p.OrganizationalUnitArn}`;
    }
    return undefined;
}
