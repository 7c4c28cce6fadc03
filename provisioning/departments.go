package provisioning

import (
	"context"

	"github.com/sentralpbx/sentral/store"
)

// DepartmentInput is what an admin types for a department; nil fields are not given.
type DepartmentInput struct {
	Name *string
}

var departments = entity[store.Department, store.Department]{
	kind:   kindDept,
	repo:   store.Store.Departments,
	fields: map[string]string{"code": "CODE", "department_id": "CODE", "name": "--name"},
}

func applyDepartment(v *store.Department, in DepartmentInput) error {
	str(&v.Name, in.Name)
	return required("--name", v.Name, `give the department's name, e.g. --name "Helse og omsorg"`)
}

// AddDepartment creates a department (cost centre).
func (s *Service) AddDepartment(ctx context.Context, tenant, code string, in DepartmentInput) (store.Department, error) {
	return departments.add(ctx, s, tenant, code, func(t store.Tenant, key string, v *store.Department) error {
		*v = store.Department{TenantID: t.ID, Code: key}
		return applyDepartment(v, in)
	})
}

// UpdateDepartment changes the given fields of a department.
func (s *Service) UpdateDepartment(ctx context.Context, tenant, code string, in DepartmentInput) (store.Department, error) {
	return departments.update(ctx, s, tenant, code, func(_ store.Tenant, v *store.Department) error { return applyDepartment(v, in) })
}

// RemoveDepartment deletes a department nothing refers to any more.
func (s *Service) RemoveDepartment(ctx context.Context, tenant, code string) (store.Department, error) {
	return departments.remove(ctx, s, tenant, code)
}

// Department shows one department.
func (s *Service) Department(ctx context.Context, tenant, code string) (store.Department, error) {
	return departments.get(ctx, s, tenant, code)
}

// Departments lists a tenant's departments.
func (s *Service) Departments(ctx context.Context, tenant string) ([]store.Department, error) {
	return departments.list(ctx, s, tenant)
}
