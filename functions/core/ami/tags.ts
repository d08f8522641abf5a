// The tags the cleanup and the restore command write, in one SDK-free place: the Lambda code writes them, the IAM
// builders allow exactly them, the keep rules read them, and the Recycle Bin rules match one of them.

/**
 * Put on an AMI and its snapshots just before the cleanup deletes them. A snapshot that carries it and that no AMI
 * uses is a deletion a run started and did not finish: the next listing finds it and finishes it. With
 * recycleBinDays, the Recycle Bin retention rules match this tag, so only the cleanup's deletions are retained.
 */
export const DELETING_TAG = { Key: "image-janitor:deleting", Value: "true" } as const;

/**
 * Put beside DELETING_TAG, on the AMI and each of its snapshots: which AMI the snapshot was deleted with. The
 * Recycle Bin does not say which snapshots a binned AMI had; this tag does, so `npm run restore` can restore them
 * first.
 */
export const IMAGE_ID_TAG_KEY = "image-janitor:image-id";

/**
 * When the cleanup disabled the AMI (ISO 8601, UTC), written right after DisableImage. With disableForHours the
 * AMI is deleted once it has stayed disabled that long; an AMI that carries it and is `available` again was
 * re-enabled by someone, and is kept from then on.
 */
export const DISABLED_AT_TAG_KEY = "image-janitor:disabled-at";

/**
 * Written by `npm run restore` on each AMI it brings back (ISO 8601, UTC): the cleanup keeps it from then on, so a
 * restored AMI is not deleted again an hour later. Remove the tag to let the rules apply again.
 */
export const RESTORED_AT_TAG_KEY = "image-janitor:restored-at";

/** Every tag key the deployed cleanup writes; its CreateTags permission is limited to these. */
export const CLEANUP_TAG_KEYS: readonly string[] = [DELETING_TAG.Key, IMAGE_ID_TAG_KEY, DISABLED_AT_TAG_KEY];

/** The tags that mark an AMI and its snapshots as being deleted by the cleanup. */
export const deletionTags = (imageId: string) => [DELETING_TAG, { Key: IMAGE_ID_TAG_KEY, Value: imageId }];
