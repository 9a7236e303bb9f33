// Facts one view learns that another can use: call id → agent id from the
// floor (a late WatchCall subscriber is not sent CallAccepted, which carries it).
export const agentOfCall = new Map();
