//! A person as the JSON API takes one: the registry's own form, and the person an arrival
//! screening records.

use linli_core::registry::PersonInput;
use linli_store::registry::Placement;
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct PersonBody {
    /// Where the person is registered: a community, compound, grid, building or unit. Required,
    /// except for a new member of a household (`/households/{id}/members`), who lives in its
    /// room.
    pub node_id: Option<i64>,
    pub name: String,
    /// male / female (男 / 女); taken from a resident ID number when omitted.
    pub gender: Option<String>,
    /// YYYY-MM-DD; taken from a resident ID number when omitted.
    pub birth_date: Option<String>,
    pub ethnic_group: Option<String>,
    /// resident_id (default), passport, hk_macao_permit, taiwan_permit
    pub id_kind: Option<String>,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub hukou_address: Option<String>,
    /// registered, resident (default), floating
    pub category: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Relation to the head of household (户主, 配偶, 子 …).
    pub relation: Option<String>,
    /// The dwelling, `3栋2单元501室`.
    pub address: Option<String>,
    /// Join this household.
    pub household_id: Option<i64>,
    /// Found a collective household if a new one is needed.
    #[serde(default)]
    pub collective: bool,
}

impl PersonBody {
    /// The person's fields, for the registry to parse.
    pub fn input(&self) -> PersonInput<'_> {
        PersonInput {
            name: &self.name,
            gender: self.gender.as_deref(),
            birth_date: self.birth_date.as_deref(),
            ethnic_group: self.ethnic_group.as_deref(),
            id_kind: self.id_kind.as_deref(),
            id_number: self.id_number.as_deref(),
            phone: self.phone.as_deref(),
            hukou_address: self.hukou_address.as_deref(),
            category: self.category.as_deref(),
            tags: &self.tags,
            relation: self.relation.as_deref(),
            address: self.address.as_deref(),
        }
    }

    /// Where the person is registered (a missing node: a 422 naming `node_id`).
    pub fn placement(&self) -> Result<Placement, crate::error::ApiError> {
        let node_id = self.node_id.ok_or_else(|| {
            crate::error::ApiError::invalid("node_id", "请给出登记辖区（node_id）")
        })?;
        Ok(Placement {
            node_id,
            household_id: self.household_id,
            collective: self.collective,
        })
    }
}
