package cove

import (
	"context"
	"strings"
	"time"

	"connectrpc.com/connect"
	iamv1 "cove.dev/gen/cove/iam/v1"
	"cove.dev/gen/cove/iam/v1/iamv1connect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// iamPageSize is the page size of every IAM list the client reads to the end.
const iamPageSize = 500

// Role is a member's role in an organization.
type Role string

// The roles, most powerful first.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
	RoleViewer Role = "viewer"
)

func (r Role) proto() (iamv1.Role, error) {
	v, ok := iamv1.Role_value["ROLE_"+strings.ToUpper(string(r))]
	if !ok || v == 0 {
		return 0, localError(connect.CodeInvalidArgument, "unknown role %q: use owner, admin, member or viewer", string(r))
	}
	return iamv1.Role(v), nil
}

func roleOf(r iamv1.Role) Role {
	if r == iamv1.Role_ROLE_UNSPECIFIED {
		return ""
	}
	return Role(strings.ToLower(strings.TrimPrefix(r.String(), "ROLE_")))
}

// Quota is what an organization may use; zero in a field means no limit.
type Quota = iamv1.Quota

// Usage is what an organization uses now.
type Usage = iamv1.Usage

// Organization is a tenant.
type Organization struct {
	// ID is the organization id ("org_…").
	ID string
	// Name is its display name.
	Name string
	// Quota is what it may use.
	Quota *Quota
	// Role is the caller's role in it, when Get knows it.
	Role Role
	// CreateTime is when it was created.
	CreateTime time.Time
}

func organizationOf(m *iamv1.Organization, role iamv1.Role) *Organization {
	return &Organization{ID: m.GetOrganizationId(), Name: m.GetName(), Quota: m.GetQuota(), Role: roleOf(role),
		CreateTime: m.GetCreateTime().AsTime()}
}

// Member is a user's membership in an organization.
type Member struct {
	// OrganizationID is the organization.
	OrganizationID string
	// UserID is the user ("usr_…").
	UserID string
	// Email and DisplayName describe the user.
	Email, DisplayName string
	// Role is the member's role.
	Role Role
	// JoinTime is when the user joined.
	JoinTime time.Time
}

func memberOf(m *iamv1.Member) *Member {
	return &Member{OrganizationID: m.GetOrganizationId(), UserID: m.GetUserId(), Email: m.GetEmail(),
		DisplayName: m.GetDisplayName(), Role: roleOf(m.GetRole()), JoinTime: m.GetCreateTime().AsTime()}
}

// APIKey is an API key (never its secret).
type APIKey struct {
	// ID is the key id ("key_…").
	ID string
	// OrganizationID is the organization it acts in.
	OrganizationID string
	// Name is its display name; Prefix the secret's first characters.
	Name, Prefix string
	// Scopes are what it may do.
	Scopes []string
	// State is "active", "expired" or "revoked".
	State string
	// CreatedByUserID is the user it acts as.
	CreatedByUserID string
	// CreateTime, ExpireTime (zero: never), LastUseTime and RevokeTime are its times.
	CreateTime, ExpireTime, LastUseTime, RevokeTime time.Time
}

func timeOf(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

func apiKeyOf(m *iamv1.ApiKey) *APIKey {
	return &APIKey{
		ID: m.GetApiKeyId(), OrganizationID: m.GetOrganizationId(), Name: m.GetName(), Prefix: m.GetKeyPrefix(),
		Scopes: m.GetScopes(), State: strings.ToLower(strings.TrimPrefix(m.GetState().String(), "API_KEY_STATE_")),
		CreatedByUserID: m.GetCreatedByUserId(), CreateTime: timeOf(m.GetCreateTime()),
		ExpireTime: timeOf(m.GetExpireTime()), LastUseTime: timeOf(m.GetLastUseTime()), RevokeTime: timeOf(m.GetRevokeTime()),
	}
}

// Organizations manages organizations, members, usage and quotas (Client.Organizations).
// An empty organization id means the calling key's own organization.
type Organizations struct {
	client *Client
	api    iamv1connect.OrganizationServiceClient
}

// Organizations returns the client's organization API.
func (c *Client) Organizations() *Organizations {
	return &Organizations{client: c, api: iamv1connect.NewOrganizationServiceClient(c.httpClient, c.apiURL, c.clientOptions()...)}
}

// id returns organizationID, or the calling key's organization's id when it is empty.
func (o *Organizations) id(ctx context.Context, organizationID string) (string, error) {
	if organizationID != "" {
		return organizationID, nil
	}
	own, err := o.Get(ctx, "")
	if err != nil {
		return "", err
	}
	return own.ID, nil
}

// Get returns an organization (default the key's own) with the caller's role in it.
func (o *Organizations) Get(ctx context.Context, organizationID string) (*Organization, error) {
	res, err := unary(ctx, o.client, o.client.timeout, o.api.GetOrganization, &iamv1.GetOrganizationRequest{OrganizationId: organizationID})
	if err != nil {
		return nil, err
	}
	return organizationOf(res.GetOrganization(), res.GetRole()), nil
}

// Create makes an organization with the calling user as its owner.
func (o *Organizations) Create(ctx context.Context, name string) (*Organization, error) {
	res, err := once(ctx, o.client, o.client.timeout, o.api.CreateOrganization, &iamv1.CreateOrganizationRequest{Name: name})
	if err != nil {
		return nil, err
	}
	return organizationOf(res.GetOrganization(), iamv1.Role_ROLE_OWNER), nil
}

// Delete deletes an organization that has no sandboxes left (owner only).
func (o *Organizations) Delete(ctx context.Context, organizationID string) error {
	_, err := once(ctx, o.client, o.client.timeout, o.api.DeleteOrganization, &iamv1.DeleteOrganizationRequest{OrganizationId: organizationID})
	return err
}

// ListMembers lists an organization's members by email.
func (o *Organizations) ListMembers(ctx context.Context, organizationID string) ([]*Member, error) {
	id, err := o.id(ctx, organizationID)
	if err != nil {
		return nil, err
	}
	req := &iamv1.ListMembersRequest{OrganizationId: id, PageSize: iamPageSize}
	var out []*Member
	for {
		res, err := unary(ctx, o.client, o.client.timeout, o.api.ListMembers, req)
		if err != nil {
			return nil, err
		}
		for _, m := range res.GetMembers() {
			out = append(out, memberOf(m))
		}
		if res.GetNextPageToken() == "" {
			return out, nil
		}
		req.PageToken = res.GetNextPageToken()
	}
}

// CreateMemberOptions describe a member for CreateMember.
type CreateMemberOptions struct {
	// OrganizationID is the organization; empty means the key's own.
	OrganizationID string
	// Email is the member's address. Required.
	Email string
	// Role is the member's role. Required.
	Role Role
	// DisplayName is the name of a user the call creates.
	DisplayName string
	// APIKeyScopes, when set, issue the member's first API key with these scopes.
	APIKeyScopes []string
	// APIKeyName names that key; default the email.
	APIKeyName string
}

// CreatedMember is what CreateMember did.
type CreatedMember struct {
	// Member is the new membership.
	Member *Member
	// UserCreated is true when no user had the email and one was made.
	UserCreated bool
	// APIKey and Secret are the member's first key, when scopes were asked for; the secret
	// is shown only here.
	APIKey *APIKey
	Secret string
}

// CreateMember adds a member by email, creating the user when there is none, and optionally
// issues their first API key (bounded by the calling key and the member's role).
func (o *Organizations) CreateMember(ctx context.Context, opts CreateMemberOptions) (*CreatedMember, error) {
	role, err := opts.Role.proto()
	if err != nil {
		return nil, err
	}
	id, err := o.id(ctx, opts.OrganizationID)
	if err != nil {
		return nil, err
	}
	res, err := once(ctx, o.client, o.client.timeout, o.api.CreateMember, &iamv1.CreateMemberRequest{
		OrganizationId: id, Email: opts.Email, Role: role, DisplayName: opts.DisplayName,
		ApiKeyScopes: opts.APIKeyScopes, ApiKeyName: opts.APIKeyName,
	})
	if err != nil {
		return nil, err
	}
	out := &CreatedMember{Member: memberOf(res.GetMember()), UserCreated: res.GetUserCreated(), Secret: res.GetApiKeySecret()}
	if res.GetApiKey() != nil {
		out.APIKey = apiKeyOf(res.GetApiKey())
	}
	return out, nil
}

// UpdateMember changes a member's role.
func (o *Organizations) UpdateMember(ctx context.Context, organizationID, userID string, role Role) (*Member, error) {
	r, err := role.proto()
	if err != nil {
		return nil, err
	}
	id, err := o.id(ctx, organizationID)
	if err != nil {
		return nil, err
	}
	res, err := unary(ctx, o.client, o.client.timeout, o.api.UpdateMember, &iamv1.UpdateMemberRequest{OrganizationId: id, UserId: userID, Role: r})
	if err != nil {
		return nil, err
	}
	return memberOf(res.GetMember()), nil
}

// RemoveMember removes a member; the keys they created in the organization are revoked.
func (o *Organizations) RemoveMember(ctx context.Context, organizationID, userID string) error {
	id, err := o.id(ctx, organizationID)
	if err != nil {
		return err
	}
	_, err = once(ctx, o.client, o.client.timeout, o.api.RemoveMember, &iamv1.RemoveMemberRequest{OrganizationId: id, UserId: userID})
	return err
}

// GetUsage returns an organization's quota and what it uses now (default the key's own).
func (o *Organizations) GetUsage(ctx context.Context, organizationID string) (*Quota, *Usage, error) {
	res, err := unary(ctx, o.client, o.client.timeout, o.api.GetUsage, &iamv1.GetUsageRequest{OrganizationId: organizationID})
	if err != nil {
		return nil, nil, err
	}
	return res.GetQuota(), res.GetUsage(), nil
}

// APIKeys creates, lists and revokes the organization's API keys (Client.APIKeys).
type APIKeys struct {
	client *Client
	api    iamv1connect.ApiKeyServiceClient
}

// APIKeys returns the client's API key API.
func (c *Client) APIKeys() *APIKeys {
	return &APIKeys{client: c, api: iamv1connect.NewApiKeyServiceClient(c.httpClient, c.apiURL, c.clientOptions()...)}
}

// CreateAPIKeyOptions describe a key to create.
type CreateAPIKeyOptions struct {
	// Name is the key's display name. Required.
	Name string
	// Scopes are what it may do. At least one.
	Scopes []string
	// ExpireTime is when it stops working; zero means never.
	ExpireTime time.Time
	// OrganizationID is where it acts; empty means the calling key's organization.
	OrganizationID string
}

// Create makes a key acting as the calling user and returns it with its secret, which is
// shown only here.
func (k *APIKeys) Create(ctx context.Context, opts CreateAPIKeyOptions) (*APIKey, string, error) {
	req := &iamv1.CreateApiKeyRequest{Name: opts.Name, Scopes: opts.Scopes, OrganizationId: opts.OrganizationID}
	if !opts.ExpireTime.IsZero() {
		req.ExpireTime = timestamppb.New(opts.ExpireTime)
	}
	res, err := once(ctx, k.client, k.client.timeout, k.api.CreateApiKey, req)
	if err != nil {
		return nil, "", err
	}
	return apiKeyOf(res.GetApiKey()), res.GetSecret(), nil
}

// List returns the keys, newest first: active ones, or those in states ("active",
// "expired", "revoked").
func (k *APIKeys) List(ctx context.Context, states ...string) ([]*APIKey, error) {
	req := &iamv1.ListApiKeysRequest{PageSize: iamPageSize}
	for _, s := range states {
		v, ok := iamv1.ApiKeyState_value["API_KEY_STATE_"+strings.ToUpper(s)]
		if !ok || v == 0 {
			return nil, localError(connect.CodeInvalidArgument, "unknown API key state %q", s)
		}
		req.States = append(req.States, iamv1.ApiKeyState(v))
	}
	var out []*APIKey
	for {
		res, err := unary(ctx, k.client, k.client.timeout, k.api.ListApiKeys, req)
		if err != nil {
			return nil, err
		}
		for _, m := range res.GetApiKeys() {
			out = append(out, apiKeyOf(m))
		}
		if res.GetNextPageToken() == "" {
			return out, nil
		}
		req.PageToken = res.GetNextPageToken()
	}
}

// Revoke revokes a key at once (revoking a revoked key succeeds).
func (k *APIKeys) Revoke(ctx context.Context, apiKeyID string) (*APIKey, error) {
	res, err := unary(ctx, k.client, k.client.timeout, k.api.RevokeApiKey, &iamv1.RevokeApiKeyRequest{ApiKeyId: apiKeyID})
	if err != nil {
		return nil, err
	}
	return apiKeyOf(res.GetApiKey()), nil
}

// AuditEvent is one audited change.
type AuditEvent struct {
	// ID is the event id; Time when it happened.
	ID   string
	Time time.Time
	// ActorType is "user", "system" or "operator"; UserID and APIKeyID who acted.
	ActorType, UserID, APIKeyID string
	// Method is the RPC, e.g. "cove.sandbox.v1.SandboxService/CreateSandbox".
	Method string
	// ResourceType and ResourceID name what was changed.
	ResourceType, ResourceID string
	// Code is the call's status code name ("OK", "NOT_FOUND", …); ErrorReason its reason.
	Code, ErrorReason string
	// RequestID is the request's id in the server's logs.
	RequestID string
}

// Audit reads the organization's audit log (Client.Audit; admins and owners).
type Audit struct {
	client *Client
	api    iamv1connect.AuditServiceClient
}

// Audit returns the client's audit log API.
func (c *Client) Audit() *Audit {
	return &Audit{client: c, api: iamv1connect.NewAuditServiceClient(c.httpClient, c.apiURL, c.clientOptions()...)}
}

// AuditFilter narrows List; zero fields match everything.
type AuditFilter struct {
	// Since and Until bound the event time.
	Since, Until time.Time
	// ResourceType, ResourceID, UserID and Method must match exactly.
	ResourceType, ResourceID, UserID, Method string
	// Limit is the most events returned; 0 means all.
	Limit int
}

// List returns matching events, newest first.
func (a *Audit) List(ctx context.Context, f AuditFilter) ([]*AuditEvent, error) {
	req := &iamv1.ListAuditEventsRequest{PageSize: iamPageSize, ResourceType: f.ResourceType, ResourceId: f.ResourceID,
		UserId: f.UserID, Method: f.Method}
	if !f.Since.IsZero() {
		req.StartTime = timestamppb.New(f.Since)
	}
	if !f.Until.IsZero() {
		req.EndTime = timestamppb.New(f.Until)
	}
	var out []*AuditEvent
	for {
		if f.Limit > 0 {
			req.PageSize = int32(min(iamPageSize, f.Limit-len(out)))
		}
		res, err := unary(ctx, a.client, a.client.timeout, a.api.ListAuditEvents, req)
		if err != nil {
			return nil, err
		}
		for _, e := range res.GetAuditEvents() {
			ev := &AuditEvent{
				ID: e.GetAuditEventId(), Time: timeOf(e.GetEventTime()),
				ActorType: strings.ToLower(strings.TrimPrefix(e.GetActor().GetType().String(), "ACTOR_TYPE_")),
				UserID:    e.GetActor().GetUserId(), APIKeyID: e.GetActor().GetApiKeyId(), Method: e.GetMethod(),
				ResourceType: e.GetResourceType(), ResourceID: e.GetResourceId(), Code: e.GetCode(), RequestID: e.GetRequestId(),
			}
			ev.ErrorReason = reasonName(e.GetErrorReason())
			out = append(out, ev)
		}
		if res.GetNextPageToken() == "" || (f.Limit > 0 && len(out) >= f.Limit) {
			return out, nil
		}
		req.PageToken = res.GetNextPageToken()
	}
}
