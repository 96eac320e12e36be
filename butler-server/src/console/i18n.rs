//! The console's words in Spanish and English (the original's users
//! worked in Spanish). The language is the user's choice, kept in a
//! cookie; Spanish is the default.

/// A language of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Español.
    Es,
    /// English.
    En,
}

impl Lang {
    /// From the cookie value.
    pub fn parse(v: &str) -> Lang {
        if v.eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Es
        }
    }

    /// The code (`es`, `en`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }

    /// The other language (for the switch).
    pub fn other(self) -> Lang {
        match self {
            Lang::Es => Lang::En,
            Lang::En => Lang::Es,
        }
    }
}

/// (key, Spanish, English).
const WORDS: &[(&str, &str, &str)] = &[
    ("app", "Butler", "Butler"),
    ("login", "Iniciar sesión", "Log in"),
    ("logout", "Cerrar sesión", "Log out"),
    ("user", "Usuario", "User"),
    ("password", "Contraseña", "Password"),
    (
        "bad_login",
        "Usuario o contraseña incorrectos",
        "Wrong user name or password",
    ),
    (
        "too_many",
        "Demasiados intentos; espere e intente de nuevo",
        "Too many attempts; wait and try again",
    ),
    ("requests", "Solicitudes", "Requests"),
    ("new_request", "Nueva solicitud", "New request"),
    ("groups", "Grupos de migración", "Migration groups"),
    ("users", "Usuarios", "Users"),
    ("my_account", "Mi cuenta", "My account"),
    ("state", "Estado", "State"),
    ("all", "Todos", "All"),
    ("requester", "Solicitante", "Requester"),
    ("approver", "Aprobador", "Approver"),
    ("from", "Desde", "From"),
    ("to", "Hasta", "To"),
    ("filter", "Filtrar", "Filter"),
    ("export", "Exportar a Excel", "Export to Excel"),
    ("total", "Total", "Total"),
    ("previous", "Anterior", "Previous"),
    ("next", "Siguiente", "Next"),
    ("created", "Creada", "Created"),
    ("vm_name", "Nombre de la VM", "VM name"),
    ("sockets", "Sockets", "Sockets"),
    ("cores_per_socket", "Núcleos por socket", "Cores per socket"),
    ("ram_gib", "RAM (GiB)", "RAM (GiB)"),
    ("division", "División", "Division"),
    ("unit", "Unidad de gestión", "Management unit"),
    ("environment", "Ambiente", "Environment"),
    ("disk_type", "Tipo de disco", "Disk type"),
    ("cluster", "Clúster", "Cluster"),
    (
        "disks_gib",
        "Discos (GiB, separados por comas)",
        "Disks (GiB, comma separated)",
    ),
    ("nics", "Redes (VLAN)", "Networks (VLAN)"),
    ("image", "Imagen", "Image"),
    ("none", "Ninguna", "None"),
    ("backup_local", "Respaldo local", "Local backup"),
    ("backup_remote", "Respaldo remoto", "Remote backup"),
    ("cdrom", "CD-ROM", "CD-ROM"),
    (
        "special_requirement",
        "Requerimiento especial",
        "Special requirement",
    ),
    ("lease_days", "Arrendamiento (días)", "Lease (days)"),
    ("lease_end", "Fin del arrendamiento", "Lease ends"),
    ("no_lease", "Sin fin", "No end"),
    ("extend_lease", "Extender el arrendamiento", "Extend the lease"),
    ("extend_until", "Nuevo fin", "New end"),
    (
        "ask_extend",
        "Solicitar la extensión",
        "Ask for the extension",
    ),
    (
        "lease_hint",
        "Vacío: sin fin, o el máximo del entorno. Al terminar, la VM se retira.",
        "Empty: no end, or the environment's maximum. At its end the VM is retired.",
    ),
    ("save_draft", "Guardar borrador", "Save draft"),
    ("save", "Guardar", "Save"),
    ("submit", "Enviar a aprobación", "Submit for approval"),
    ("estimate", "Costo mensual estimado", "Monthly estimate"),
    ("cost_center", "Centro de costo", "Cost center"),
    ("project", "Proyecto", "Project"),
    ("history", "Historial", "History"),
    ("steps", "Pasos de aprovisionamiento", "Provisioning steps"),
    ("actions", "Acciones", "Actions"),
    ("edit", "Editar", "Edit"),
    ("review", "Revisar", "Review"),
    ("approve", "Aprobar", "Approve"),
    ("reject", "Rechazar", "Reject"),
    ("cancel", "Cancelar", "Cancel"),
    ("cancel_request", "Cancelar la solicitud", "Cancel the request"),
    (
        "confirm_cancel",
        "Sí, cancelarla para siempre",
        "Yes, cancel it for good",
    ),
    ("retry", "Reintentar", "Retry"),
    ("reason", "Motivo", "Reason"),
    (
        "stale",
        "Otra persona cambió esta solicitud primero; esta es la versión actual.",
        "Someone else changed this first; this is the current version.",
    ),
    (
        "problems",
        "Corrija lo indicado",
        "Please fix what is marked",
    ),
    ("not_found", "No encontrado", "Not found"),
    ("denied", "No permitido", "Not allowed"),
    ("name", "Nombre", "Name"),
    ("create", "Crear", "Create"),
    ("find", "Buscar", "Find"),
    ("source", "Origen", "Source"),
    ("destination", "Destino", "Destination"),
    ("set_clusters", "Fijar clústeres", "Set clusters"),
    ("switch", "Invertir", "Switch"),
    ("clone", "Clonar", "Clone"),
    ("rename", "Renombrar", "Rename"),
    ("delete", "Eliminar", "Delete"),
    ("add_vm", "Agregar VM", "Add VM"),
    (
        "search_vms",
        "Buscar VMs del clúster de origen",
        "Search the source cluster's VMs",
    ),
    ("remove", "Quitar", "Remove"),
    ("selected", "Seleccionada", "Selected"),
    ("select", "Seleccionar", "Select"),
    ("deselect", "Quitar selección", "Deselect"),
    ("refresh", "Actualizar datos", "Refresh facts"),
    ("facts", "Datos de la plataforma", "Platform facts"),
    ("age", "Antigüedad", "Age"),
    (
        "catalog_from_platform",
        "Catálogo leído de la plataforma",
        "Catalog read from the platform",
    ),
    ("validate", "Validar", "Validate"),
    ("migrate", "Migrar", "Migrate"),
    (
        "group_power_off",
        "Butler apaga las VMs encendidas antes de migrarlas y las enciende en el destino",
        "Butler powers running VMs off before migrating them and on again at the destination",
    ),
    ("save_power", "Guardar", "Save"),
    (
        "confirm_power_off",
        "Apagar las VMs encendidas (se avisa a sus dueños) y encenderlas en el destino:",
        "Power off the running VMs (their owners are told) and on again at the destination:",
    ),
    ("errors", "Errores", "Errors"),
    ("warnings", "Advertencias", "Warnings"),
    ("infos", "Información", "Information"),
    ("progress", "Progreso", "Progress"),
    ("reports", "Informes", "Reports"),
    ("report", "Informe", "Report"),
    (
        "retry_failed",
        "Reintentar las fallidas",
        "Retry the failed ones",
    ),
    ("done", "Terminado", "Done"),
    ("roles", "Roles", "Roles"),
    ("disabled", "Deshabilitado", "Disabled"),
    ("add_user", "Agregar usuario", "Add user"),
    ("change_password", "Cambiar contraseña", "Change password"),
    ("current_password", "Contraseña actual", "Current password"),
    ("new_password", "Nueva contraseña", "New password"),
    ("catalog", "Catálogo y tarifas", "Catalog and rates"),
    ("language", "English", "Español"),
    ("powered_on", "Encendida", "Powered on"),
    (
        "protection_domain",
        "Dominio de protección",
        "Protection domain",
    ),
    ("last_replica", "Última réplica", "Last replica"),
    ("outcome", "Resultado", "Outcome"),
    ("apply", "Aplicar", "Apply"),
    ("enable", "Habilitar", "Enable"),
    ("disable", "Deshabilitar", "Disable"),
    ("saved", "Guardado", "Saved"),
    ("rules", "Reglas de aprobación", "Approval rules"),
    ("rules_version", "Versión", "Version"),
    ("rules_none", "Sin reglas: cada solicitud necesita un aprobador", "No rules: every request needs one approver"),
    ("rules_changed", "Cambiadas por", "Changed by"),
    ("rules_edit", "Reglas (TOML)", "Rules (TOML)"),
    ("rules_history", "Versiones anteriores", "Earlier versions"),
    ("rules_count", "Reglas", "Rules"),
    ("queue", "Por aprobar", "To approve"),
    ("quotas", "Cuotas", "Quotas"),
    ("quotas_none", "Sin cuotas ni consumo", "No quotas and nothing held"),
    ("quota_scope", "Ámbito", "Scope"),
    ("quota_use", "Uso / límite", "Used / limit"),
    ("quota_vms", "VMs", "VMs"),
    ("quota_request", "Cuota con esta solicitud", "Quota with this request"),
    ("quota_after", "con esta solicitud", "with this request"),
    ("storage_gib", "Disco (GiB)", "Disk (GiB)"),
    ("monthly_cost", "Costo mensual", "Monthly cost"),
    ("queue_empty", "Nada espera su aprobación", "Nothing waits for your approval"),
    ("showback", "Costo real", "Showback"),
    ("showback_period", "Período", "Period"),
    ("showback_show", "Mostrar", "Show"),
    ("showback_none", "Ninguna VM existió en el período", "No VM existed in the period"),
    ("showback_actual", "Real", "Actual"),
    ("showback_estimate", "Estimado", "Estimate"),
    ("showback_difference", "Diferencia", "Difference"),
    ("showback_days", "Días", "Days"),
    ("showback_days_off", "Días apagada", "Days off"),
    ("showback_month", "Mes", "Month"),
    ("showback_by_cc", "Por centro de costo", "By cost center"),
    ("showback_lines", "Por VM", "By VM"),
    ("showback_chart", "Costo real y estimado por mes", "Actual and estimated cost per month"),
    ("showback_total", "Total del período", "Period total"),
    ("showback_unpriced", "Sin precio", "Not priced"),
    ("showback_more", "Se muestran las primeras líneas; descargue el resto", "The first lines are shown; download the rest"),
    ("showback_closed", "Meses cerrados", "Closed months"),
    ("showback_closed_by", "cerrado por", "closed by"),
    ("showback_close", "Cerrar mes", "Close month"),
    ("showback_close_help", "Un mes cerrado no cambia nunca más, aunque cambien las tarifas", "A closed month never changes again, whatever the rate cards do"),
    ("download_csv", "Descargar CSV", "Download CSV"),
    ("download_xlsx", "Descargar Excel", "Download Excel"),
    ("level", "Nivel", "Level"),
    ("vms", "Mis VMs", "My VMs"),
    ("owner", "Propietario", "Owner"),
    ("power", "Energía", "Power"),
    ("drift", "Cambios fuera de Butler", "Changed outside Butler"),
    ("power_on", "Encender", "Power on"),
    ("power_off", "Apagar", "Shut down"),
    ("restart", "Reiniciar", "Restart"),
    ("power_on_state", "Encendida", "On"),
    ("power_off_state", "Apagada", "Off"),
    ("power_unknown_state", "Desconocido", "Unknown"),
    ("power_done", "Hecho", "Done"),
    ("power_already", "Ya estaba así", "It already was"),
    ("vm", "Máquina virtual", "Virtual machine"),
    ("lifecycle", "Ciclo de vida", "Lifecycle"),
    ("vcpus", "vCPU", "vCPUs"),
    ("when", "Cuándo", "When"),
    ("who", "Quién", "Who"),
    ("what", "Qué", "What"),
    ("reconfigure", "Cambiar recursos", "Change resources"),
    ("reconfigure_help", "Separe discos y VLAN con comas; los discos solo crecen.", "Separate disks and VLANs with commas; disks only grow."),
    ("accept_downtime", "Acepto que se apague si el cambio lo necesita", "I accept it being powered off if the change needs it"),
    ("ask_change", "Solicitar el cambio", "Ask for the change"),
    ("retire", "Retirar", "Retire"),
    ("retire_help", "Se apaga, se quita de la protección, la monitorización y la facturación, y se borra, tras la aprobación.", "Once approved it is powered off, taken out of protection, monitoring and billing, and deleted."),
    ("ask_retire", "Solicitar el retiro", "Ask to retire it"),
    ("not_changeable", "Esta VM ya no se puede cambiar.", "This VM can no longer be changed."),
    ("kept_until", "Conservada apagada hasta", "Kept powered off until"),
    ("not_refreshed", "Sin actualizar aún", "Not refreshed yet"),
    (
        "stale_form",
        "El formulario caducó o no es de este sitio: vuelva a intentarlo.",
        "The form expired or is not this site's: try again.",
    ),
    ("restore", "Restaurar", "Restore"),
    (
        "restore_help",
        "Se enciende y vuelve a la protección, la monitorización y la facturación, sin aprobación.",
        "It is powered on and goes back into protection, monitoring and billing, with no approval needed.",
    ),
];

/// A word in `lang` (the key itself when missing, so a gap shows).
pub fn word(lang: Lang, key: &str) -> &'static str {
    for (k, es, en) in WORDS {
        if *k == key {
            return match lang {
                Lang::Es => es,
                Lang::En => en,
            };
        }
    }
    "?"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_unique_and_has_both_languages() {
        let mut keys: Vec<&str> = WORDS.iter().map(|w| w.0).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "duplicate keys");
        assert!(WORDS
            .iter()
            .all(|(_, es, en)| !es.is_empty() && !en.is_empty()));
        assert_eq!(word(Lang::Es, "requests"), "Solicitudes");
        assert_eq!(word(Lang::En, "requests"), "Requests");
    }
}
