// Every GraphQL operation of the front end. Typed by @graphql-codegen from schema/schema.graphql.
import { graphql } from '../gql';

export const UserFields = graphql(`
  fragment UserFields on User {
    id
    email
    displayName
    role
    active
    institution {
      id
      name
    }
  }
`);

export const LoginDoc = graphql(`
  mutation Login($email: String!, $password: String!) {
    login(email: $email, password: $password) {
      accessToken
      refreshToken
      user {
        ...UserFields
      }
    }
  }
`);

export const RefreshDoc = graphql(`
  mutation Refresh($refreshToken: String!) {
    refreshSession(refreshToken: $refreshToken) {
      accessToken
      refreshToken
      user {
        ...UserFields
      }
    }
  }
`);

export const LogoutDoc = graphql(`
  mutation Logout($refreshToken: String!) {
    logout(refreshToken: $refreshToken)
  }
`);

export const MeDoc = graphql(`
  query Me {
    me {
      ...UserFields
    }
  }
`);

export const CaseRowFields = graphql(`
  fragment CaseRow on Case {
    id
    reference
    title
    stage
    status
    priority
    channel
    topics
    createdAt
    updatedAt
    business {
      id
      name
    }
    assignedTo {
      id
      displayName
    }
    referrals {
      id
      status
      isOpen
      overdue
      pickupDeadline
      createdAt
      institution {
        id
        name
      }
    }
  }
`);

export const CasesDoc = graphql(`
  query Cases($filter: CaseFilter, $first: Int, $after: String) {
    cases(filter: $filter, first: $first, after: $after) {
      totalCount
      totalCountExact
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        cursor
        node {
          ...CaseRow
        }
      }
    }
  }
`);

/** The partner's inbox: what the desk wrote and what the partner may read, before it decides. */
export const PartnerInboxDoc = graphql(`
  query PartnerInbox($filter: CaseFilter, $first: Int, $after: String) {
    cases(filter: $filter, first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        cursor
        node {
          ...CaseRow
          description
          business {
            id
            municipality
          }
          referrals {
            id
            note
          }
        }
      }
    }
  }
`);

export const DashboardDoc = graphql(`
  query Dashboard($me: ID!) {
    web: cases(filter: { channel: [WEB_FORM], status: [NEW] }, first: 10) {
      totalCount
      edges {
        node {
          ...CaseRow
        }
      }
    }
    mine: cases(filter: { assignedToId: $me, status: [NEW, IN_PROGRESS, ON_HOLD, REFERRED] }, first: 10) {
      totalCount
      edges {
        node {
          ...CaseRow
        }
      }
    }
    handedBack: cases(filter: { handedBack: true }, first: 10) {
      totalCount
      totalCountExact
      edges {
        node {
          ...CaseRow
          referrals {
            id
            completedAt
            summary
          }
        }
      }
    }
    know: cases(filter: { stage: [KNOW], status: [NEW, IN_PROGRESS, ON_HOLD, REFERRED] }, first: 1) {
      totalCount
    }
    consult: cases(filter: { stage: [CONSULT], status: [NEW, IN_PROGRESS, ON_HOLD, REFERRED] }, first: 1) {
      totalCount
    }
    try: cases(filter: { stage: [TRY], status: [NEW, IN_PROGRESS, ON_HOLD, REFERRED] }, first: 1) {
      totalCount
    }
    overdueReferrals {
      id
      status
      pickupDeadline
      createdAt
      institution {
        id
        name
      }
      case {
        id
        reference
        title
        business {
          name
        }
      }
    }
  }
`);

export const InstitutionsDoc = graphql(`
  query Institutions {
    institutions {
      id
      name
      kind
      tags
      regions
      active
    }
  }
`);

export const LabDoc = graphql(`
  query Lab {
    lab {
      id
      code
      name
      regions {
        code
        name
        municipalities
      }
    }
  }
`);

export const BusinessesDoc = graphql(`
  query Businesses($search: String, $first: Int) {
    businesses(search: $search, first: $first) {
      id
      name
      corporateNumber
      industry
      municipality
      contactName
    }
  }
`);

export const OpenCaseDoc = graphql(`
  mutation OpenCase($input: OpenCaseInput!) {
    openCase(input: $input) {
      accessCode
      case {
        id
        reference
        business {
          id
          name
        }
      }
      offeredContact {
        name
        email
        phone
      }
    }
  }
`);

/** Before opening a case: the lab's record with the typed 法人番号, what differs, a new contact to offer, look-alikes. */
export const BusinessIntakeCheckDoc = graphql(`
  query BusinessIntakeCheck($input: BusinessInput!) {
    businessIntakeCheck(input: $input) {
      existing {
        id
        name
        corporateNumber
        municipality
        industry
      }
      differences {
        field
        existing
        proposed
      }
      newContact {
        name
        email
        phone
      }
      duplicates {
        business {
          id
          name
          corporateNumber
          municipality
          industry
        }
        reasonLabels
      }
    }
  }
`);

export const CaseFields = graphql(`
  fragment CaseFull on Case {
    id
    reference
    title
    description
    stage
    status
    priority
    topics
    channel
    consentToShare
    emailUpdates
    version
    isOpen
    allowedStatuses
    canResolve
    canClose
    canReopen
    writableNoteVisibilities
    createdAt
    updatedAt
    resolvedAt
    closedAt
    outcomes
    outcomeSummary
    business {
      id
      name
      corporateNumber
      industry
      municipality
      contactName
      email
      phone
    }
    assignedTo {
      id
      displayName
    }
    referrals {
      id
      status
      isOpen
      note
      reason
      decisionNote
      summary
      completedAt
      pickupDeadline
      overdue
      createdAt
      decidedAt
      institution {
        id
        name
      }
    }
    notes {
      id
      body
      visibility
      createdAt
      author {
        id
        displayName
      }
    }
    events {
      seq
      kind
      at
      summary
      actor {
        id
        displayName
      }
    }
  }
`);

export const CaseDoc = graphql(`
  query Case($id: ID!) {
    case(id: $id) {
      ...CaseFull
    }
  }
`);

export const SuggestDoc = graphql(`
  query Suggest($caseId: ID!) {
    suggestInstitutions(caseId: $caseId) {
      score
      reason
      institution {
        id
        name
        kind
        tags
      }
    }
  }
`);

export const UpdateCaseDoc = graphql(`
  mutation UpdateCase($id: ID!, $expectedVersion: Int!, $input: UpdateCaseInput!) {
    updateCase(id: $id, expectedVersion: $expectedVersion, input: $input) {
      ...CaseFull
    }
  }
`);

export const SetStageDoc = graphql(`
  mutation SetStage($caseId: ID!, $expectedVersion: Int!, $stage: Stage!, $note: String) {
    setStage(caseId: $caseId, expectedVersion: $expectedVersion, stage: $stage, note: $note) {
      ...CaseFull
    }
  }
`);

export const SetStatusDoc = graphql(`
  mutation SetStatus($caseId: ID!, $expectedVersion: Int!, $status: CaseStatus!, $note: String) {
    setStatus(caseId: $caseId, expectedVersion: $expectedVersion, status: $status, note: $note) {
      ...CaseFull
    }
  }
`);

export const ResolveDoc = graphql(`
  mutation Resolve($caseId: ID!, $expectedVersion: Int!, $outcomes: [Outcome!]!, $summary: String!) {
    resolveCase(caseId: $caseId, expectedVersion: $expectedVersion, outcomes: $outcomes, summary: $summary) {
      ...CaseFull
    }
  }
`);

export const ReopenDoc = graphql(`
  mutation Reopen($caseId: ID!, $note: String) {
    reopenCase(caseId: $caseId, note: $note) {
      id
      version
    }
  }
`);

export const CloseDoc = graphql(`
  mutation Close($caseId: ID!) {
    closeCase(caseId: $caseId) {
      id
      version
    }
  }
`);

export const RotateDoc = graphql(`
  mutation Rotate($caseId: ID!) {
    rotateAccessCode(caseId: $caseId)
  }
`);

export const ReferDoc = graphql(`
  mutation Refer($caseId: ID!, $institutionId: ID!, $note: String) {
    referCase(caseId: $caseId, institutionId: $institutionId, note: $note) {
      id
      status
    }
  }
`);

export const WithdrawDoc = graphql(`
  mutation Withdraw($referralId: ID!, $note: String) {
    withdrawReferral(referralId: $referralId, note: $note) {
      id
      status
    }
  }
`);

export const AcceptDoc = graphql(`
  mutation Accept($referralId: ID!, $note: String) {
    acceptReferral(referralId: $referralId, note: $note) {
      id
      status
    }
  }
`);

export const DeclineDoc = graphql(`
  mutation Decline($referralId: ID!, $reason: DeclineReason!, $note: String) {
    declineReferral(referralId: $referralId, reason: $reason, note: $note) {
      id
      status
    }
  }
`);

export const CompleteDoc = graphql(`
  mutation Complete($referralId: ID!, $summary: String!) {
    completeReferral(referralId: $referralId, summary: $summary) {
      id
      status
    }
  }
`);

export const AddNoteDoc = graphql(`
  mutation AddNote($caseId: ID!, $body: String!, $visibility: NoteVisibility!) {
    addNote(caseId: $caseId, body: $body, visibility: $visibility) {
      id
    }
  }
`);

export const UsersDoc = graphql(`
  query Users {
    users {
      ...UserFields
    }
  }
`);

export const CreateUserDoc = graphql(`
  mutation CreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      ...UserFields
    }
  }
`);

export const DeactivateUserDoc = graphql(`
  mutation DeactivateUser($id: ID!) {
    deactivateUser(id: $id) {
      id
      active
    }
  }
`);

export const ActivateUserDoc = graphql(`
  mutation ActivateUser($id: ID!) {
    activateUser(id: $id) {
      id
      active
    }
  }
`);

export const CreateInstitutionDoc = graphql(`
  mutation CreateInstitution($input: InstitutionInput!) {
    createInstitution(input: $input) {
      id
    }
  }
`);

export const UpdateInstitutionDoc = graphql(`
  mutation UpdateInstitution($id: ID!, $input: InstitutionUpdateInput!) {
    updateInstitution(id: $id, input: $input) {
      id
      name
      kind
      tags
      regions
      active
    }
  }
`);

export const CaseStatusDoc = graphql(`
  query CaseStatus($reference: String!, $accessCode: String!) {
    caseStatus(reference: $reference, accessCode: $accessCode) {
      reference
      title
      stage
      status
      isOpen
      institutions
      nextStep
      milestones {
        at
        kind
        label
      }
      notes {
        body
        createdAt
      }
    }
  }
`);

export const PublicLabsDoc = graphql(`
  query PublicLabs {
    publicLabs {
      code
      name
      displayName
      contactLine
      regions {
        code
        name
        municipalities
      }
    }
  }
`);

export const SubmitConsultationDoc = graphql(`
  mutation SubmitConsultation($input: ConsultationInput!) {
    submitConsultation(input: $input) {
      reference
      accessCode
    }
  }
`);

export const CountFields = graphql(`
  fragment CountFields on CountItem {
    key
    label
    count
  }
`);

export const ReportDoc = graphql(`
  query Report($fiscalYear: Int!) {
    activityReport(fiscalYear: $fiscalYear) {
      fiscalYear
      label
      labelEn
      generatedAt
      institution {
        id
        name
      }
      casesOpened
      businessesSupported
      newBusinesses
      byStage {
        ...CountFields
      }
      byStatus {
        ...CountFields
      }
      byChannel {
        ...CountFields
      }
      byIndustry {
        ...CountFields
      }
      byRegion {
        ...CountFields
      }
      byMunicipality {
        ...CountFields
      }
      referrals {
        referrals
        pending
        accepted
        declined
        withdrawn
        completed
        open
        overdue
        acceptanceRate
        pickupMedianDays
        pickupP90Days
        declineReasons {
          ...CountFields
        }
      }
      referralsByInstitution {
        institution {
          id
          name
        }
        figures {
          referrals
          accepted
          declined
          open
          overdue
          acceptanceRate
          pickupMedianDays
          pickupP90Days
        }
      }
      resolution {
        casesResolved
        medianDays
        p90Days
      }
      outcomes {
        outcome
        label
        cases
        businesses
      }
      stageMovements {
        knowToConsult
        consultToTry
      }
      monthly {
        index
        label
        casesOpened
        newBusinesses
        referrals
        casesResolved
      }
      kpis {
        id
        name
        unit
        target
        metric
        metricLabel
        manual
        actual
        progress
      }
    }
  }
`);

export const KpiTargetsDoc = graphql(`
  query KpiTargets($fiscalYear: Int) {
    kpiTargets(fiscalYear: $fiscalYear) {
      id
      fiscalYear
      name
      unit
      target
      metric
      metricLabel
      manual
      manualActual
    }
    kpiMetrics {
      code
      label
      labelEn
      manual
    }
  }
`);

export const UpsertKpiDoc = graphql(`
  mutation UpsertKpi($input: KpiTargetInput!) {
    upsertKpiTarget(input: $input) {
      id
    }
  }
`);

export const DeleteKpiDoc = graphql(`
  mutation DeleteKpi($id: ID!) {
    deleteKpiTarget(id: $id)
  }
`);

export const SetKpiActualDoc = graphql(`
  mutation SetKpiActual($id: ID!, $actual: Float) {
    setKpiActual(id: $id, actual: $actual) {
      id
    }
  }
`);

// ------------------------------------------------------------ business record

export const BusinessDoc = graphql(`
  query Business($id: ID!) {
    business(id: $id) {
      id
      name
      corporateNumber
      industry
      industryLabel
      employeeBand
      municipality
      website
      version
      previouslyErased
      contacts {
        id
        name
        role
        email
        phone
        primary
      }
      history {
        at
        kind
        fields
        actor {
          id
          displayName
        }
      }
      cases {
        id
        reference
        title
        stage
        status
        createdAt
        consentToShare
      }
      stagePath {
        at
        stage
        reference
      }
      supportingInstitutions {
        id
        name
      }
      consent {
        given
        casesWithConsent
        casesWithoutConsent
      }
      duplicateCandidates {
        business {
          id
          name
          municipality
        }
        reasonLabels
      }
    }
  }
`);

export const UpdateBusinessDoc = graphql(`
  mutation UpdateBusiness($id: ID!, $expectedVersion: Int!, $input: BusinessUpdateInput!) {
    updateBusiness(id: $id, expectedVersion: $expectedVersion, input: $input) {
      id
      version
    }
  }
`);

export const AddBusinessContactDoc = graphql(`
  mutation AddBusinessContact($businessId: ID!, $input: BusinessContactInput!) {
    addBusinessContact(businessId: $businessId, input: $input) {
      id
    }
  }
`);

export const RemoveBusinessContactDoc = graphql(`
  mutation RemoveBusinessContact($id: ID!) {
    removeBusinessContact(id: $id) {
      id
    }
  }
`);

export const MergeBusinessesDoc = graphql(`
  mutation MergeBusinesses($keepId: ID!, $mergeId: ID!) {
    mergeBusinesses(keepId: $keepId, mergeId: $mergeId) {
      id
    }
  }
`);

// ---------------------------------------------------------------- accounts and lab settings (issue 11)

export const ResetPasswordDoc = graphql(`
  mutation ResetPassword($token: String!, $newPassword: String!) {
    resetPassword(token: $token, newPassword: $newPassword) {
      user {
        email
      }
    }
  }
`);

export const ChangePasswordDoc = graphql(`
  mutation ChangePassword($currentPassword: String!, $newPassword: String!) {
    changePassword(currentPassword: $currentPassword, newPassword: $newPassword)
  }
`);

export const RequestPasswordResetDoc = graphql(`
  mutation RequestPasswordReset($email: String!) {
    requestPasswordReset(email: $email)
  }
`);

export const UpdateUserDoc = graphql(`
  mutation UpdateUser($id: ID!, $input: UpdateUserInput!) {
    updateUser(id: $id, input: $input) {
      ...UserFields
    }
  }
`);

export const IssuePasswordLinkDoc = graphql(`
  mutation IssuePasswordLink($userId: ID!) {
    issuePasswordLink(userId: $userId)
  }
`);

export const LabSettingsDoc = graphql(`
  query LabSettings {
    labSettings {
      pickupDays
      closureDays
      escalationRepeatDays
      displayName
      contactLine
    }
  }
`);

export const UpdateLabSettingsDoc = graphql(`
  mutation UpdateLabSettings($input: LabSettingsInput!) {
    updateLabSettings(input: $input) {
      pickupDays
      closureDays
      escalationRepeatDays
      displayName
      contactLine
    }
  }
`);
