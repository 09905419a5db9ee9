/**
 * Approvals for destructive operations. Each operation has a risk level; high
 * and critical ones go through the `approve` callback (default: refuse), and
 * every request and its decision is audited.
 */
export type RiskLevel = 'low' | 'high' | 'critical';

export interface ApprovalRequest {
  operation: string;
  risk: RiskLevel;
  /** The consequence in one sentence, e.g. "this will replace 12 files and delete 3 in /srv/app". */
  summary: string;
  details?: Record<string, unknown>;
}

export type Approver = (request: ApprovalRequest) => boolean | Promise<boolean>;

/** The library default: refuse everything that needs approval. */
export const refuseAll: Approver = () => false;

export function needsApproval(risk: RiskLevel): boolean {
  return risk !== 'low';
}
